//! The body of an answer: one buffer, or a download read a piece at a time as the client takes
//! it (a [`BodyReader`] a handler left behind), so that sending an object of gigabytes holds about
//! two of its chunks in memory, not the object.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use rampart_core::BodyReader;
use rampart_store::{Db, Sealer};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;

/// An answer's body, and the room in memory it holds until it is sent (or dropped).
pub struct Body {
    kind: Kind,
    room: Option<OwnedSemaphorePermit>,
}

enum Kind {
    Full(Option<Bytes>),
    Read(Box<Reading>),
}

/// What a piece read on the blocking pool hands back: the reader, and the piece.
type Piece = (Box<dyn BodyReader>, Option<Result<Vec<u8>, rampart_core::ServiceError>>);

struct Reading {
    db: Db,
    sealer: Arc<Sealer>,
    /// The reader, while no piece is being read.
    reader: Option<Box<dyn BodyReader>>,
    /// The piece being read (the next one is read while the last is sent).
    pending: Option<JoinHandle<Piece>>,
    left: u64,
}

impl Body {
    pub fn full(bytes: Bytes) -> Self {
        Body { kind: Kind::Full(Some(bytes)), room: None }
    }

    /// The bytes `reader` reads, through `db` and `sealer`.
    pub fn read(reader: Box<dyn BodyReader>, db: Db, sealer: Arc<Sealer>) -> Self {
        let left = reader.remaining();
        Body {
            kind: Kind::Read(Box::new(Reading { db, sealer, reader: Some(reader), pending: None, left })),
            room: None,
        }
    }

    /// The body, holding `room` until it is sent or dropped. A buffer holds it itself: the server
    /// may drop the body once it has taken the buffer, before the buffer's bytes are written.
    pub fn holding(mut self, room: OwnedSemaphorePermit) -> Self {
        match &mut self.kind {
            Kind::Full(bytes) => *bytes = bytes.take().map(|b| Bytes::from_owner(Held(b, room))),
            Kind::Read(_) => self.room = Some(room),
        }
        self
    }
}

/// Bytes, and the room they hold until dropped.
struct Held(Bytes, #[allow(dead_code, reason = "held for its drop")] OwnedSemaphorePermit);

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Reading {
    /// Reads the next piece on the blocking pool, unless one is being read or all is read.
    fn read_next(&mut self) {
        if self.pending.is_some() {
            return;
        }
        let Some(mut reader) = self.reader.take() else { return };
        let (db, sealer) = (self.db.clone(), self.sealer.clone());
        self.pending = Some(tokio::task::spawn_blocking(move || {
            let piece = reader.next_piece(&db, &sealer);
            (reader, piece)
        }));
    }

    fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        self.read_next();
        let Some(pending) = self.pending.as_mut() else { return Poll::Ready(None) };
        let done = ready!(Pin::new(pending).poll(cx));
        self.pending = None;
        let cut = |why: &str| {
            // The headers are sent: the client sees a body short of its length, and retries.
            tracing::warn!(why, "a download is cut short");
            Poll::Ready(Some(Err(std::io::Error::other("the download could not be read to its end"))))
        };
        let (reader, piece) = match done {
            Ok(done) => done,
            Err(_) => return cut("its reader failed"),
        };
        match piece {
            Some(Ok(bytes)) => {
                self.left = self.left.saturating_sub(bytes.len() as u64);
                if reader.remaining() > 0 {
                    self.reader = Some(reader);
                    self.read_next();
                }
                Poll::Ready(Some(Ok(Bytes::from(bytes))))
            }
            Some(Err(e)) => cut(&e.code),
            None => Poll::Ready(None),
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let piece = match &mut this.kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().filter(|b| !b.is_empty()).map(Ok)),
            Kind::Read(reading) => reading.poll_piece(cx),
        };
        piece.map(|p| p.map(|p| p.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Kind::Read(reading) => reading.left == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Read(reading) => SizeHint::with_exact(reading.left),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::full(bytes)
    }
}
