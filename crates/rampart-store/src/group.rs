//! What every engine's writer shares: the queued jobs, and how a group of them is gathered for one
//! commit (group commit).

use std::sync::{Mutex, mpsc};
use std::thread::JoinHandle;

use crate::StoreError;
use crate::db::{Backend, Tx, TxError};

/// Most transactions committed together.
pub(crate) const MAX_GROUP: usize = 512;
/// How long queued writes nobody waits for gather before they commit, and the slices the writer
/// sleeps in meanwhile (see [`gather`]).
const QUEUED_WRITES_GATHER: std::time::Duration = std::time::Duration::from_millis(20);
const GATHER_SLICE: std::time::Duration = std::time::Duration::from_millis(1);

type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A transaction that ran and now waits for its group's commit.
pub(crate) struct Ran {
    pub(crate) done: Done,
    pub(crate) written: Vec<Vec<u8>>,
    pub(crate) wiped: bool,
}

/// Runs a job against its engine's transaction.
type RunFn = Box<dyn FnOnce(&mut dyn Backend) -> Option<Ran> + Send>;

/// One queued piece of work for a writer.
pub(crate) enum Job {
    /// A transaction or queued write: runs on the writer, then learns whether its group committed.
    Run {
        run: RunFn,
        /// Someone waits for its commit (a transaction), as opposed to a queued write.
        waited: bool,
    },
    /// A queued log append, stored with its group.
    LogLater { at: i64, value: Vec<u8> },
}

impl Job {
    pub(crate) fn new<T, E, F>(f: F, reply: tokio::sync::oneshot::Sender<Result<T, TxError<E>>>) -> Self
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        Self::Run {
            run: Box::new(move |backend| {
                if let Err(e) = backend.begin() {
                    let _ = reply.send(Err(TxError::Store(e)));
                    return None;
                }
                let mut tx = Tx { backend, written: Vec::new(), wiped: false };
                let result = f(&mut tx);
                let Tx { backend, written, wiped } = tx;
                match result {
                    Ok(v) => match backend.commit() {
                        Ok(()) => Some(Ran {
                            done: Box::new(move |committed: Result<(), StoreError>| {
                                let _ = reply.send(committed.map(|()| v).map_err(TxError::Store));
                            }),
                            written,
                            wiped,
                        }),
                        Err(e) => {
                            let _ = backend.rollback();
                            let _ = reply.send(Err(TxError::Store(e)));
                            None
                        }
                    },
                    Err(e) => {
                        let _ = reply.send(match backend.rollback() {
                            Ok(()) => Err(TxError::Aborted(e)),
                            Err(re) => Err(TxError::Store(re)),
                        });
                        None
                    }
                }
            }),
            waited: true,
        }
    }

    pub(crate) fn waited(&self) -> bool {
        matches!(self, Self::Run { waited: true, .. })
    }

    /// Writes nobody waits for and no cache needs to forget (see `Db::put_later`).
    pub(crate) fn fire_and_forget(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Self {
        Self::Run {
            run: Box::new(move |backend| {
                let result = (|| -> Result<(), StoreError> {
                    backend.begin()?;
                    for (k, v) in &pairs {
                        backend.put(k, v)?;
                    }
                    backend.commit()
                })();
                if let Err(e) = result {
                    let _ = backend.rollback();
                    tracing::error!(error = %e, "queued write failed");
                }
                None
            }),
            waited: false,
        }
    }
}

pub(crate) enum Msg {
    Job(Job),
    Close,
}

/// Waits for the next job, then takes every job queued behind it (up to [`MAX_GROUP`]). Queued
/// writes alone (read-only calls' events) gather a moment, so a stream of them commits in few
/// groups; the writer sleeps in slices rather than waking for every write, and a transaction that
/// arrives ends the wait at the next slice. Returns the group and whether the store is closing.
pub(crate) fn gather(rx: &mpsc::Receiver<Msg>) -> Option<(Vec<Job>, bool)> {
    let mut closing = false;
    let mut group = Vec::new();
    match rx.recv().ok()? {
        Msg::Job(j) => group.push(j),
        Msg::Close => closing = true,
    }
    while group.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(Msg::Job(j)) => group.push(j),
            Ok(Msg::Close) => closing = true,
            Err(_) => break,
        }
    }
    if !closing && !group.is_empty() && !group.iter().any(Job::waited) {
        let until = std::time::Instant::now() + QUEUED_WRITES_GATHER;
        'gather: while group.len() < MAX_GROUP && std::time::Instant::now() < until {
            std::thread::sleep(GATHER_SLICE);
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(Msg::Job(j)) => {
                        let waited = j.waited();
                        group.push(j);
                        if waited {
                            break 'gather;
                        }
                    }
                    Ok(Msg::Close) => {
                        closing = true;
                        break 'gather;
                    }
                    Err(_) => break,
                }
            }
        }
    }
    Some((group, closing))
}

/// An engine's writer thread and the queue to it: jobs go in; closing waits until everything
/// queued before it has been committed.
pub(crate) struct WriterThread {
    sender: mpsc::Sender<Msg>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl WriterThread {
    /// Starts the writer thread, which runs `body` over the queue.
    pub(crate) fn spawn(body: impl FnOnce(mpsc::Receiver<Msg>) + Send + 'static) -> Result<Self, StoreError> {
        let (sender, rx) = mpsc::channel::<Msg>();
        let thread = std::thread::Builder::new()
            .name("rampart-store-writer".into())
            .spawn(move || body(rx))
            .map_err(|e| StoreError::Writer(e.to_string()))?;
        Ok(Self { sender, thread: Mutex::new(Some(thread)) })
    }

    /// No writer: every job is refused at once (a read-only store).
    pub(crate) fn none() -> Self {
        let (sender, _) = mpsc::channel::<Msg>();
        Self { sender, thread: Mutex::new(None) }
    }

    pub(crate) fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.sender.send(Msg::Job(job)).map_err(|_| StoreError::Closed)
    }

    pub(crate) fn close(&self) {
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = self.sender.send(Msg::Close);
            let _ = thread.join();
        }
    }
}

/// Everything queued behind a close, so no acknowledged write is dropped.
pub(crate) fn drain(rx: &mpsc::Receiver<Msg>) -> Vec<Job> {
    rx.try_iter().filter_map(|m| if let Msg::Job(j) = m { Some(j) } else { None }).collect()
}

/// Runs one job of a group; a panicking transaction must not take the writer down with it: its
/// writes are undone and its reply channel dropped, so its caller gets an error.
pub(crate) fn run_job(run: RunFn, backend: &mut dyn Backend) -> Option<Ran> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&mut *backend))).unwrap_or_else(|_| {
        tracing::error!("store: a transaction panicked; its writes are rolled back");
        let _ = backend.rollback();
        None
    })
}
