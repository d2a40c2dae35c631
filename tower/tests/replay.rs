//! ReplayBody: what can be sent again, and that the body sent is intact
//! either way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::convert::Infallible;

use bytes::Bytes;
use freshen_tower::ReplayBody;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};

type Body = BoxBody<Bytes, Infallible>;

async fn text(body: Body) -> String {
    let bytes = body.collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn a_body_ready_now_is_buffered_and_replayed() {
    smol::block_on(async {
        let chunks = ["one ", "two ", "three"]
            .map(|c| Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(c))));
        let mut body: Body = StreamBody::new(futures_lite::stream::iter(chunks)).boxed();
        let copy = body.replay(1024).expect("ready at once: replayable");
        assert_eq!(text(body).await, "one two three");
        assert_eq!(text(copy).await, "one two three");
    });
}

#[test]
fn a_body_still_being_produced_is_sent_whole_and_not_replayed() {
    smol::block_on(async {
        let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(4);
        tx.send_data(Bytes::from_static(b"first ")).await.unwrap();
        let mut body: Body = body.boxed();
        assert!(body.replay(1024).is_none(), "it waits on its producer");
        tx.send_data(Bytes::from_static(b"second")).await.unwrap();
        drop(tx);
        assert_eq!(
            text(body).await,
            "first second",
            "what was read ahead, then the rest"
        );
    });
}

#[test]
fn a_body_over_the_limit_is_not_replayed() {
    smol::block_on(async {
        let chunks = (0..8)
            .map(|_| Ok::<_, Infallible>(http_body::Frame::data(Bytes::from_static(&[b'x'; 100]))));
        let mut body: Body = StreamBody::new(futures_lite::stream::iter(chunks)).boxed();
        assert!(body.replay(250).is_none());
        assert_eq!(text(body).await.len(), 800);
    });
}

#[test]
fn whole_buffers_are_copied() {
    let mut full = Full::new(Bytes::from_static(b"abc"));
    assert!(
        full.replay(0).is_some(),
        "no limit applies to a whole buffer"
    );
}
