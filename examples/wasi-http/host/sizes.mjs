// What a component's bytes are: the core modules it holds, each one's
// sections, and, when the main module still has its `name` section (a build
// with strip = false), its code by crate (SIZES_TOP=n rows, 15 by default).
// Usage: node sizes.mjs <component.wasm>
import { readFileSync } from 'node:fs';
import process from 'node:process';

const path = process.argv[2];
if (!path) {
  console.error('usage: node sizes.mjs <component.wasm>');
  process.exit(2);
}
const bytes = readFileSync(path);

function leb(buf, at) {
  let value = 0, shift = 0, b;
  do {
    b = buf[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return [value, at];
}

function name(buf, at) {
  const [len, start] = leb(buf, at);
  return [buf.toString('utf8', start, start + len), start + len];
}

// [{ id, start, end }] of the sections after the 8-byte preamble.
function sections(buf) {
  const out = [];
  let at = 8;
  while (at < buf.length) {
    const id = buf[at];
    const [size, start] = leb(buf, at + 1);
    out.push({ id, start, end: start + size, total: start + size - at });
    at = start + size;
  }
  return out;
}

const CORE = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export',
  'start', 'element', 'code', 'data', 'data count', 'tag'];
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

// The standard library's crates are shown with their module (core::fmt).
function withModule(path) {
  return ['core', 'alloc', 'std'].includes(path[0]) && path[1] ? `${path[0]}::${path[1]}` : path[0];
}

// The crate a (legacy- or v0-mangled, or plain) function name belongs to.
function crateOf(fn) {
  let m = /^_ZN(\d+)/.exec(fn);
  if (m) {
    const len = Number(m[1]);
    const start = 3 + m[1].length;
    const first = fn.slice(start, start + len);
    // `<Type as Trait>::f` is `_$LT$Type$u20$as$u20$Trait$GT$`: Type's crate,
    // or Trait's when Type is a generic or a primitive (no path).
    if (first.startsWith('_$LT$')) {
      const inner = first.slice(5).replace(/\$GT\$$/, '').replace(/^(\$RF\$|mut\$u20\$|dyn\$u20\$)+/, '');
      const [self, trait] = inner.split('$u20$as$u20$');
      const path = self.includes('..') ? self : (trait ?? self);
      return withModule(path.replace(/^(\$RF\$|mut\$u20\$|dyn\$u20\$)+/, '').split('..'));
    }
    const rest = [first];
    let at = start + len;
    const next = /^(\d+)/.exec(fn.slice(at));
    if (next) rest.push(fn.slice(at + next[1].length, at + next[1].length + Number(next[1])));
    return withModule(rest);
  }
  m = /^_R.*?C(?:s[0-9a-zA-Z]*_)?(\d+)([a-zA-Z_][a-zA-Z0-9_]*)/.exec(fn);
  if (m) {
    const crate = m[2].slice(0, Number(m[1]));
    const module = /^(\d+)([a-zA-Z_][a-zA-Z0-9_]*)/.exec(m[2].slice(crate.length));
    return withModule([crate, module?.[2].slice(0, Number(module[1]))]);
  }
  if (fn.startsWith('<')) {
    m = /^<+(?:&(?:mut )?)?(?:dyn )?([a-zA-Z_][a-zA-Z0-9_]*)::/.exec(fn);
    if (m) return m[1];
  }
  m = /^([a-zA-Z_][a-zA-Z0-9_]*)::([a-zA-Z_][a-zA-Z0-9_]*)?/.exec(fn);
  if (m) return withModule([m[1], m[2]]);
  return '(C: wasi-libc, dlmalloc, compiler builtins)';
}

function coreModule(buf, label) {
  const secs = sections(buf);
  console.log(`${label}: ${kib(buf.length)}`);
  let imported = 0;
  let bodies = [];
  let names = new Map();
  for (const s of secs) {
    let what = CORE[s.id] ?? `section ${s.id}`;
    if (s.id === 0) what = `custom "${name(buf, s.start)[0]}"`;
    console.log(`  ${what.padEnd(28)} ${kib(s.total).padStart(10)}`);
    if (s.id === 2) {
      let [count, at] = leb(buf, s.start);
      for (let i = 0; i < count; i++) {
        [, at] = name(buf, at);
        [, at] = name(buf, at);
        const kind = buf[at++];
        if (kind === 0) { [, at] = leb(buf, at); imported++; }
        else if (kind === 1) { at++; const [flags, a] = leb(buf, at); at = a; [, at] = leb(buf, at); if (flags & 1) [, at] = leb(buf, at); }
        else if (kind === 2) { const [flags, a] = leb(buf, at); at = a; [, at] = leb(buf, at); if (flags & 1) [, at] = leb(buf, at); }
        else if (kind === 3) { at += 2; }
        else { at += 2; }
      }
    }
    if (s.id === 10) {
      let [count, at] = leb(buf, s.start);
      for (let i = 0; i < count; i++) {
        const [size, start] = leb(buf, at);
        bodies.push(start + size - at);
        at = start + size;
      }
    }
    if (s.id === 0 && name(buf, s.start)[0] === 'name') {
      let at = name(buf, s.start)[1];
      while (at < s.end) {
        const sub = buf[at];
        const [size, start] = leb(buf, at + 1);
        if (sub === 1) {
          let [count, p] = leb(buf, start);
          for (let i = 0; i < count; i++) {
            let idx, fn;
            [idx, p] = leb(buf, p);
            [fn, p] = name(buf, p);
            names.set(idx, fn);
          }
        }
        at = start + size;
      }
    }
  }
  if (names.size && bodies.length) {
    const byCrate = new Map();
    bodies.forEach((size, i) => {
      const fname = names.get(i + imported) ?? "";
      const crate = crateOf(fname);
      byCrate.set(crate, (byCrate.get(crate) ?? 0) + size);
    });
    const total = bodies.reduce((a, b) => a + b, 0);
    console.log(`  code by crate (${bodies.length} functions, ${kib(total)}):`);
    for (const [crate, size] of [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.SIZES_TOP ?? 15))) {
      console.log(`    ${crate.padEnd(44)} ${kib(size).padStart(10)} ${(100 * size / total).toFixed(0).padStart(3)}%`);
    }
  }
}

if (bytes.readUInt32LE(4) === 1) {
  coreModule(bytes, path);
} else {
  console.log(`${path}: a component of ${kib(bytes.length)}`);
  let n = 0;
  for (const s of sections(bytes)) {
    if (s.id === 1) coreModule(bytes.subarray(s.start, s.end), `  core module #${n++}`);
  }
}
