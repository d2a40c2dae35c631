//! [`FileStore`]: the record in a file, replaced atomically, locked across
//! processes.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};

use freshen_core::{Error, ErrorKind};
use freshen_oauth::{LockFuture, StoreLock, StoredToken, TokenStore};

use zeroize::Zeroizing;

use crate::record;

/// A [`TokenStore`] in one file (see the [crate] docs): atomic replace,
/// mode 0600 on Unix, an advisory lock across processes on `<path>.lock`.
///
/// ```
/// use freshen_oauth::{StoredToken, TokenStore};
/// use freshen_store::FileStore;
///
/// let dir = std::env::temp_dir().join(format!("freshen-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let store = FileStore::new(dir.join("tokens.json"));
/// let mut locked = store.lock()?;
/// assert!(locked.load()?.is_none());
/// locked.save(&StoredToken::refresh_only("rt-2"))?;
/// assert_eq!(locked.load()?.unwrap().refresh_token.unwrap().expose(), "rt-2");
/// # drop(locked); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct FileStore {
    path: PathBuf,
    lock_path: PathBuf,
    temp_path: PathBuf,
}

impl FileStore {
    /// A store keeping its record at `path`. Nothing is touched until the
    /// first [`lock`](TokenStore::lock); the directory must exist.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        FileStore {
            lock_path: sibling(&path, ".lock"),
            temp_path: sibling(&path, ".tmp"),
            path,
        }
    }

    /// Where the record is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the lock is taken: a file beside the record that is never
    /// replaced (a lock on the record itself would be lost at each rename).
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    fn load(&self) -> Result<Option<StoredToken>, Error> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io_error("cannot open", &self.path, e)),
        };
        let mut bytes = Zeroizing::new(Vec::new());
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        bytes.reserve_exact(usize::try_from(len).unwrap_or(0).saturating_add(1));
        file.read_to_end(&mut bytes)
            .map_err(|e| self.io_error("cannot read", &self.path, e))?;
        record::decode(&bytes).map(Some).map_err(|why| {
            Error::permanent(ErrorKind::Store(format!("{}: {why}", self.path.display())))
        })
    }

    /// Write the temporary file, flush it to disk, rename it over the
    /// record, flush the directory: the old record or the new, never a mix.
    fn save(&self, token: &StoredToken) -> Result<(), Error> {
        let bytes = record::encode(token);
        // A temporary file left by a process killed during a save.
        match fs::remove_file(&self.temp_path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io_error("cannot remove", &self.temp_path, e)),
        }
        let mut file = private_options()
            .create_new(true)
            .open(&self.temp_path)
            .map_err(|e| self.io_error("cannot create", &self.temp_path, e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| self.io_error("cannot write", &self.temp_path, e))?;
        drop(file);
        fs::rename(&self.temp_path, &self.path)
            .map_err(|e| self.io_error("cannot replace", &self.path, e))?;
        sync_dir(&self.path)
            .map_err(|e| self.io_error("cannot sync the directory of", &self.path, e))
    }

    fn io_error(&self, what: &str, path: &Path, e: io::Error) -> Error {
        Error::transient(ErrorKind::Store(format!("{what} {}: {e}", path.display()))).with_source(e)
    }
}

impl FileStore {
    fn open_lock_file(&self) -> Result<File, Error> {
        private_options()
            .create(true)
            .truncate(false)
            .open(&self.lock_path)
            .map_err(|e| self.io_error("cannot open", &self.lock_path, e))
    }

    fn locked(&self, file: File) -> Box<dyn StoreLock + '_> {
        // Closing the file releases the lock (and so does the process's
        // death: a killed holder never leaves the store locked).
        Box::new(FileLock {
            store: self,
            _file: file,
        })
    }
}

impl TokenStore for FileStore {
    fn lock(&self) -> Result<Box<dyn StoreLock + '_>, Error> {
        let file = self.open_lock_file()?;
        fs4::FileExt::lock(&file).map_err(|e| self.io_error("cannot lock", &self.lock_path, e))?;
        Ok(self.locked(file))
    }

    /// Tries the lock at once; if another holder (a process, or another
    /// `FileStore` of this process) has it, a thread of its own waits for
    /// it, so the async worker stays free. If the future is dropped first,
    /// that thread lets the lock go as soon as it gets it.
    fn lock_async(&self) -> LockFuture<'_> {
        Box::pin(async move {
            let file = self.open_lock_file()?;
            let file = match fs4::FileExt::try_lock(&file) {
                Ok(()) => file,
                Err(fs4::TryLockError::WouldBlock) => lock_on_a_thread(file)
                    .await
                    .map_err(|e| self.io_error("cannot lock", &self.lock_path, e))?,
                Err(fs4::TryLockError::Error(e)) => {
                    return Err(self.io_error("cannot lock", &self.lock_path, e));
                }
            };
            Ok(self.locked(file))
        })
    }
}

/// Where the waiting thread leaves the locked file, and whom to wake.
#[derive(Default)]
struct Handoff {
    locked: Option<io::Result<File>>,
    waker: Option<Waker>,
}

/// Locks `file` (blocking) on a new thread, and resolves with it.
async fn lock_on_a_thread(file: File) -> io::Result<File> {
    let handoff = Arc::new(Mutex::new(Handoff::default()));
    let theirs = Arc::clone(&handoff);
    std::thread::Builder::new()
        .name("freshen-store-lock".into())
        .spawn(move || {
            let locked = fs4::FileExt::lock(&file).map(|()| file);
            let waker = {
                let mut handoff = theirs.lock().unwrap_or_else(PoisonError::into_inner);
                handoff.locked = Some(locked);
                handoff.waker.take()
            };
            // If no one waits any more, `handoff` (and the lock) is let go
            // with the last `Arc`.
            if let Some(waker) = waker {
                waker.wake();
            }
        })?;
    std::future::poll_fn(|cx| {
        let mut handoff = handoff.lock().unwrap_or_else(PoisonError::into_inner);
        match handoff.locked.take() {
            Some(locked) => Poll::Ready(locked),
            None => {
                handoff.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .finish()
    }
}

/// The store, locked until dropped.
struct FileLock<'a> {
    store: &'a FileStore,
    _file: File,
}

impl StoreLock for FileLock<'_> {
    fn load(&mut self) -> Result<Option<StoredToken>, Error> {
        self.store.load()
    }

    fn save(&mut self, token: &StoredToken) -> Result<(), Error> {
        self.store.save(token)
    }
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// Options for a file only its owner may read (mode 0600 on Unix).
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Makes a rename in `path`'s directory durable (Unix; elsewhere the
/// rename is as durable as the platform makes it).
fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
