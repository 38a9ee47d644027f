//! The embedded SQLite engine: one writer thread with group commit, a pool of readers.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::cache::ReadCache;
use crate::db::{Tx, TxError};
use crate::{StoreError, prefix_end};

/// Readers in the pool; SQLite WAL readers do not block the writer or each other.
const READERS: usize = 4;
/// Most transactions committed together.
const MAX_GROUP: usize = 512;
/// How long queued writes nobody waits for gather before they commit, and the slices the writer
/// sleeps in meanwhile (see `writer_loop`).
const QUEUED_WRITES_GATHER: std::time::Duration = std::time::Duration::from_millis(20);
const GATHER_SLICE: std::time::Duration = std::time::Duration::from_millis(1);

type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A transaction that ran and now waits for its group's commit.
pub(crate) struct Ran {
    done: Done,
    written: Vec<Vec<u8>>,
    wiped: bool,
}

/// One queued transaction: runs on the writer thread, then learns whether its group committed.
pub(crate) struct Job {
    run: RunFn,
    /// Someone waits for its commit (a transaction), as opposed to a queued write.
    waited: bool,
}

type RunFn = Box<dyn FnOnce(&Connection) -> Option<Ran> + Send>;

impl Job {
    pub(crate) fn new<T, E, F>(f: F, reply: tokio::sync::oneshot::Sender<Result<T, TxError<E>>>) -> Self
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        Self {
            run: Box::new(move |conn| {
                if let Err(e) = conn.execute_batch("SAVEPOINT job") {
                    let _ = reply.send(Err(TxError::Store(e.into())));
                    return None;
                }
                let mut tx = Tx { conn, written: Vec::new(), wiped: false };
                match f(&mut tx) {
                    Ok(v) => match conn.execute_batch("RELEASE job") {
                        Ok(()) => Some(Ran {
                            done: Box::new(move |committed: Result<(), StoreError>| {
                                let _ = reply.send(committed.map(|()| v).map_err(TxError::Store));
                            }),
                            written: tx.written,
                            wiped: tx.wiped,
                        }),
                        Err(e) => {
                            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                            let _ = reply.send(Err(TxError::Store(e.into())));
                            None
                        }
                    },
                    Err(e) => {
                        let rolled_back = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                        let _ = reply.send(match rolled_back {
                            Ok(()) => Err(TxError::Aborted(e)),
                            Err(re) => Err(TxError::Store(re.into())),
                        });
                        None
                    }
                }
            }),
            waited: true,
        }
    }

    pub(crate) fn append_later(at: i64, value: Vec<u8>) -> Self {
        Self {
            run: Box::new(move |conn| {
                if let Err(e) = log_append(conn, at, &value) {
                    tracing::error!(error = %e, "queued log append failed");
                }
                None
            }),
            waited: false,
        }
    }

    pub(crate) fn fire_and_forget(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Self {
        Self {
            run: Box::new(move |conn| {
                let result = (|| -> Result<(), StoreError> {
                    let mut st = conn.prepare_cached(
                        "INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                    )?;
                    for (k, v) in &pairs {
                        st.execute((k, v))?;
                    }
                    Ok(())
                })();
                if let Err(e) = result {
                    tracing::error!(error = %e, "queued write failed");
                }
                None
            }),
            waited: false,
        }
    }
}

enum Msg {
    Job(Job),
    Close,
}

pub(crate) struct SqliteEngine {
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    writer: Mutex<Option<(mpsc::Sender<Msg>, JoinHandle<()>)>>,
    sender: mpsc::Sender<Msg>,
}

/// What the writer thread owns.
struct Writer {
    conn: Connection,
    cache: std::sync::Arc<ReadCache>,
}

fn open_conn(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

impl SqliteEngine {
    pub(crate) fn open(path: &Path, cache: std::sync::Arc<ReadCache>) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let writer_conn = open_conn(path, flags)?;
        let mode: String = writer_conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Writer(format!("journal_mode is {mode}, not wal")));
        }
        writer_conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS log (t INTEGER PRIMARY KEY, v BLOB NOT NULL);",
        )?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers
                .push(Mutex::new(open_conn(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?));
        }
        let (sender, rx) = mpsc::channel::<Msg>();
        let handle = std::thread::Builder::new()
            .name("rampart-store-writer".into())
            .spawn(move || writer_loop(&Writer { conn: writer_conn, cache }, &rx))
            .map_err(|e| StoreError::Writer(e.to_string()))?;
        Ok(Self {
            readers,
            next_reader: AtomicUsize::new(0),
            writer: Mutex::new(Some((sender.clone(), handle))),
            sender,
        })
    }

    /// Readers only, for tools that inspect a store a server may be running on: SQLite's WAL
    /// lets them read beside its writer. Every write fails with [`StoreError::Closed`].
    pub(crate) fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let readers = vec![Mutex::new(open_conn(path, flags)?)];
        // No writer thread: the receiver is dropped, so a submitted job is refused at once.
        let (sender, _) = mpsc::channel::<Msg>();
        Ok(Self { readers, next_reader: AtomicUsize::new(0), writer: Mutex::new(None), sender })
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        // Take the first free reader, or wait for the one this call was dealt.
        for i in 0..n {
            if let Some(m) = self.readers.get((start + i) % n)
                && let Ok(conn) = m.try_lock()
            {
                return f(&conn);
            }
        }
        let m = self.readers.get(start % n).ok_or(StoreError::Closed)?;
        let conn = m.lock().map_err(|_| StoreError::Writer("reader poisoned".into()))?;
        f(&conn)
    }

    pub(crate) fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.sender.send(Msg::Job(job)).map_err(|_| StoreError::Closed)
    }

    pub(crate) fn close(&self) {
        let taken = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some((tx, handle)) = taken {
            let _ = tx.send(Msg::Close);
            let _ = handle.join();
        }
    }
}

impl Drop for SqliteEngine {
    fn drop(&mut self) {
        self.close();
    }
}

fn writer_loop(w: &Writer, rx: &mpsc::Receiver<Msg>) {
    let mut closing = false;
    while !closing {
        let Ok(first) = rx.recv() else { break };
        let mut group = Vec::new();
        match first {
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
        // Queued writes alone (read-only calls' events) gather a moment, so a stream of them
        // commits in few groups, each one fsync. The writer sleeps in slices rather than waking
        // for every write; a transaction that arrives ends the wait at the next slice.
        if !closing && !group.is_empty() && !group.iter().any(|j| j.waited) {
            let until = std::time::Instant::now() + QUEUED_WRITES_GATHER;
            'gather: while group.len() < MAX_GROUP && std::time::Instant::now() < until {
                std::thread::sleep(GATHER_SLICE);
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(Msg::Job(j)) => {
                            let waited = j.waited;
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
        if group.is_empty() {
            continue;
        }
        commit_group(w, group);
    }
    // Drain anything queued behind the close so no acknowledged write is dropped.
    let rest: Vec<Job> = rx.try_iter().filter_map(|m| if let Msg::Job(j) = m { Some(j) } else { None }).collect();
    if !rest.is_empty() {
        commit_group(w, rest);
    }
    let _ = w.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
}

fn commit_group(w: &Writer, group: Vec<Job>) {
    let conn = &w.conn;
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "store: cannot begin a transaction");
        // Dropping the jobs drops their reply channels: each waiter hears that the store failed.
        drop(group);
        return;
    }
    let ran: Vec<Ran> = group
        .into_iter()
        .filter_map(|job| {
            // A panicking transaction must not take the writer down with it: undo its writes and
            // drop its reply channel, so its caller gets an error.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.run)(conn))).unwrap_or_else(|_| {
                tracing::error!("store: a transaction panicked; its writes are rolled back");
                let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                None
            })
        })
        .collect();
    let committed = conn.execute_batch("COMMIT");
    if committed.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let msg = committed.as_ref().err().map(ToString::to_string);
    // INVARIANT: the cache forgets every written key before any writer hears of its commit.
    w.cache.invalidate(ran.iter().flat_map(|r| r.written.iter()), ran.iter().any(|r| r.wiped));
    for Ran { done, .. } in ran {
        done(match &msg {
            None => Ok(()),
            Some(m) => Err(StoreError::Writer(m.clone())),
        });
    }
}

pub(crate) fn get(conn: &Connection, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    let mut st = conn.prepare_cached("SELECT v FROM kv WHERE k = ?1")?;
    Ok(st.query_row([key], |r| r.get(0)).optional()?)
}

pub(crate) fn scan_prefix(
    conn: &Connection,
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
    reverse: bool,
) -> Result<Vec<crate::KeyValue>, StoreError> {
    let end = prefix_end(prefix);
    // Bounds: [lo, hi) in key order; `after` tightens the side the scan starts from.
    let (lo, lo_incl, hi): (Vec<u8>, bool, Option<Vec<u8>>) = match (after, reverse) {
        (Some(a), false) => (a.to_vec().max(prefix.to_vec()), a < prefix, end),
        (Some(a), true) => (prefix.to_vec(), true, Some(end.map_or(a.to_vec(), |e| e.min(a.to_vec())))),
        (None, _) => (prefix.to_vec(), true, end),
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let order = if reverse { "DESC" } else { "ASC" };
    let lo_op = if lo_incl { ">=" } else { ">" };
    let sql = match hi {
        Some(_) => format!("SELECT k, v FROM kv WHERE k {lo_op} ?1 AND k < ?2 ORDER BY k {order} LIMIT ?3"),
        None => format!("SELECT k, v FROM kv WHERE k {lo_op} ?1 ORDER BY k {order} LIMIT ?2"),
    };
    let mut st = conn.prepare_cached(&sql)?;
    let map = |r: &rusqlite::Row<'_>| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?));
    let rows = match hi {
        Some(h) => st.query_map(rusqlite::params![lo, h, limit], map)?.collect::<Result<Vec<_>, _>>()?,
        None => st.query_map(rusqlite::params![lo, limit], map)?.collect::<Result<Vec<_>, _>>()?,
    };
    Ok(rows)
}

/// Appends `value` to the log at `at`, or at the first free position after it; returns where.
pub(crate) fn log_append(conn: &Connection, at: i64, value: &[u8]) -> Result<i64, StoreError> {
    let mut st = conn.prepare_cached("INSERT INTO log (t, v) VALUES (?1, ?2) ON CONFLICT(t) DO NOTHING")?;
    let mut t = at;
    loop {
        if st.execute((t, value))? == 1 {
            return Ok(t);
        }
        t = t.checked_add(1).ok_or_else(|| StoreError::Writer("the log is full".into()))?;
    }
}

/// The log entry at `at`.
pub(crate) fn log_get(conn: &Connection, at: i64) -> Result<Option<Vec<u8>>, StoreError> {
    let mut st = conn.prepare_cached("SELECT v FROM log WHERE t = ?1")?;
    Ok(st.query_row([at], |r| r.get(0)).optional()?)
}

/// Up to `limit` log entries with positions in `from..=to`, in position order (descending when
/// `reverse`).
pub(crate) fn log_range(
    conn: &Connection,
    from: i64,
    to: i64,
    limit: usize,
    reverse: bool,
) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    let sql = if reverse {
        "SELECT t, v FROM log WHERE t >= ?1 AND t <= ?2 ORDER BY t DESC LIMIT ?3"
    } else {
        "SELECT t, v FROM log WHERE t >= ?1 AND t <= ?2 ORDER BY t ASC LIMIT ?3"
    };
    let mut st = conn.prepare_cached(sql)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = st.query_map(rusqlite::params![from, to, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
