//! The embedded SQLite engine: one writer thread with group commit, a pool of readers.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::cache::ReadCache;
use crate::db::Backend;
use crate::group::{self, Job, Msg, Ran, WriterThread};
use crate::logpack::{self, Keys};
use crate::{KeyValue, LogEntry, StoreError};

/// Readers in the pool; SQLite WAL readers do not block the writer or each other.
const READERS: usize = 4;

/// The page size of a new store. SQLite writes a WAL frame (a page and its header) in two system
/// calls, so an object's 1 MiB chunks cost 512 of them at SQLite's default 4 KiB, and the
/// kernel's per-call work was most of the writer's time under uploads. Measured side by side
/// (`loadbench --op s3-transfer --mib 1024`, `--op s3-put`): a multipart upload runs at 268 MB/s
/// with 4 KiB pages, 308 with 8 KiB, 326 with 16 KiB and 384–399 with 64 KiB; 4 KiB PutObject
/// loses 5–10 % at 16 KiB (each small commit writes and journals whole pages) and a third at
/// 64 KiB.
const PAGE_SIZE: u32 = 16 * 1024;

/// WAL bytes after a commit at which the checkpointer thread is woken (SQLite's own automatic
/// checkpoint comes at 1000 pages, 4 MB of its default pages).
const CHECKPOINT_BYTES: i64 = 4 << 20;

/// WAL bytes after a commit at which the writer checkpoints itself. A checkpoint beside a writer
/// that never pauses never copies the last frames, and the WAL restarts only once every frame is
/// copied; the writer's own checkpoint, which nothing appends during, bounds it.
const WAL_HIGH_WATER_BYTES: i64 = 64 << 20;

pub(crate) struct SqliteEngine {
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    writer: WriterThread,
}

/// What the writer thread owns.
struct Writer {
    conn: Connection,
    cache: std::sync::Arc<ReadCache>,
    /// The last position any pack holds: packs never overlap, so a queued append at or before it
    /// is stored as a row of its own.
    packed_through: std::cell::Cell<i64>,
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
        let mut writer_conn = open_conn(path, flags)?;
        // Before anything is written: a new store only (a WAL database keeps the page size it was
        // made with).
        writer_conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        let mode: String = writer_conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Writer(format!("journal_mode is {mode}, not wal")));
        }
        // A job's savepoint journals the pages it changes; in memory rather than in a temporary
        // file (SQLite spills one past 64 KiB, four pages of a new store).
        writer_conn.pragma_update(None, "temp_store", "MEMORY")?;
        writer_conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL, b INTEGER) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS log (t INTEGER PRIMARY KEY, v BLOB NOT NULL);
                 CREATE TABLE IF NOT EXISTS logpack (t INTEGER PRIMARY KEY, last INTEGER NOT NULL,
                     n INTEGER NOT NULL, keys BLOB NOT NULL, block BLOB NOT NULL);",
        )?;
        out_of_line(&writer_conn)?;
        let packed_through: i64 = writer_conn
            .query_row("SELECT last FROM logpack ORDER BY t DESC LIMIT 1", [], |r| r.get(0))
            .optional()?
            .unwrap_or(i64::MIN);
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers
                .push(Mutex::new(open_conn(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?));
        }
        let checkpointer = Checkpointer::spawn(open_conn(path, flags)?)?;
        checkpointer.attach(&mut writer_conn)?;
        let writer = WriterThread::spawn(move |rx| {
            let mut w = Writer { conn: writer_conn, cache, packed_through: std::cell::Cell::new(packed_through) };
            writer_loop(&w, &rx);
            checkpointer.stop(&mut w.conn);
            let _ = w.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
        })?;
        Ok(Self { readers, next_reader: AtomicUsize::new(0), writer })
    }

    /// Readers only, for tools that inspect a store a server may be running on: SQLite's WAL
    /// lets them read beside its writer. Every write fails with [`StoreError::Closed`].
    pub(crate) fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = open_conn(path, flags)?;
        // A store no server of this version has opened keeps every value in `kv`: read it through
        // a view of the shape the statements expect (temporary objects need no write to the file).
        if !has_column(&conn, "b")? {
            conn.execute_batch(
                "CREATE TEMP VIEW kv AS SELECT k, v, NULL AS b FROM main.kv;
                 CREATE TEMP TABLE big (id INTEGER PRIMARY KEY, v BLOB NOT NULL);",
            )?;
        }
        let readers = vec![Mutex::new(conn)];
        Ok(Self { readers, next_reader: AtomicUsize::new(0), writer: WriterThread::none() })
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
        self.writer.submit(job)
    }

    pub(crate) fn close(&self) {
        self.writer.close();
    }
}

impl Drop for SqliteEngine {
    fn drop(&mut self) {
        self.close();
    }
}

fn writer_loop(w: &Writer, rx: &mpsc::Receiver<Msg>) {
    while let Some((group, closing)) = group::gather(rx) {
        if !group.is_empty() {
            commit_group(w, group);
        }
        if closing {
            break;
        }
    }
    let rest = group::drain(rx);
    if !rest.is_empty() {
        commit_group(w, rest);
    }
}

/// Copies the WAL's pages into the database on a thread of its own, so that the writer's next
/// group is appended while the last ones are copied (SQLite's automatic checkpoint runs on the
/// committing connection, inside the writer's turn). PASSIVE checkpoints neither wait for nor
/// block readers and the writer.
struct Checkpointer {
    wake: mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Checkpointer {
    fn spawn(conn: Connection) -> Result<Self, StoreError> {
        let (wake, rx) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("rampart-store-checkpoint".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    match conn.wal_checkpoint_v2(None::<&str>, rusqlite::wal::CheckpointMode::PASSIVE) {
                        Ok(_) => {}
                        // The writer is checkpointing past the high water itself: nothing to do.
                        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
                            tracing::debug!("store: checkpoint skipped, the writer is checkpointing");
                        }
                        Err(e) => tracing::warn!(error = %e, "store: checkpoint failed"),
                    }
                }
            })
            .map_err(|e| StoreError::Writer(e.to_string()))?;
        Ok(Self { wake, thread })
    }

    /// Replaces the writer's automatic checkpoint: a commit that leaves [`CHECKPOINT_BYTES`] in
    /// the WAL wakes the thread (a wake already pending stands for it); one that leaves
    /// [`WAL_HIGH_WATER_BYTES`] checkpoints on the writer.
    fn attach(&self, writer: &mut Connection) -> Result<(), StoreError> {
        let page: i64 = writer.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let (wake_at, high_water) = (CHECKPOINT_BYTES / page.max(512), WAL_HIGH_WATER_BYTES / page.max(512));
        let wake = self.wake.clone();
        writer.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
            let pages = i64::from(pages);
            if pages >= high_water {
                // Busy only while the thread is copying: the next commit tries again.
                let _ = wal.checkpoint_v2(rusqlite::wal::CheckpointMode::PASSIVE);
            } else if pages >= wake_at {
                let _ = wake.try_send(());
            }
            Ok(())
        }))?;
        Ok(())
    }

    /// Ends the thread once its copy is done; the writer's hook goes with it.
    fn stop(self, writer: &mut Connection) {
        let _ = writer.wal_hook(None::<fn(&mut rusqlite::hooks::Wal, std::ffi::c_int) -> rusqlite::Result<()>>);
        drop(self.wake);
        let _ = self.thread.join();
    }
}

fn commit_group(w: &Writer, group: Vec<Job>) {
    let conn = &w.conn;
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "store: cannot begin a transaction");
        // Dropping the jobs drops their reply channels: each waiter hears that the store failed.
        drop(group);
        return;
    }
    let mut later = Vec::new();
    let ran: Vec<Ran> = group
        .into_iter()
        .filter_map(|job| match job {
            Job::Run { run, .. } => group::run_job(run, &mut SqliteTx { conn, packed_through: w.packed_through.get() }),
            Job::LogLater { at, value } => {
                later.push((at, value));
                None
            }
        })
        .collect();
    if !later.is_empty() {
        let n = later.len();
        let stored = conn
            .execute_batch("SAVEPOINT packs")
            .map_err(StoreError::from)
            .and_then(|()| append_packed(conn, &w.packed_through, later))
            .and_then(|()| Ok(conn.execute_batch("RELEASE packs")?));
        if let Err(e) = stored {
            let _ = conn.execute_batch("ROLLBACK TO packs; RELEASE packs");
            tracing::error!(error = %e, entries = n, "store: queued log appends failed");
        }
    }
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

/// Copies the embedded store at `path` into a new file `to` (mode 0600; an existing file is not
/// replaced) with SQLite's online backup in one step: a consistent snapshot, taken beside a
/// running server, whose writer only waits for the copy's read. The copy is checked with
/// `PRAGMA integrity_check`. Returns its size in bytes.
pub fn backup(path: &Path, to: &Path) -> Result<u64, StoreError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let src = open_conn(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", to.display())))?;
    let mut dst = Connection::open(to)?;
    {
        let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
        // All pages in one step: one snapshot of the source.
        while backup.step(-1)? != rusqlite::backup::StepResult::Done {}
    }
    let check: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(StoreError::Writer(format!("the backup's integrity check failed: {check}")));
    }
    dst.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    drop(dst);
    std::fs::metadata(to).map(|m| m.len()).map_err(|e| StoreError::Config(e.to_string()))
}

/// Values longer than this are kept out of line, in `big`, and `kv` holds their row there (`b`).
///
/// `kv` is clustered on its key (WITHOUT ROWID), so a row is its key and value together, and
/// SQLite compares a search key with a cell whose row overflows its page only after reading the
/// whole row in: every lookup near a 1 MiB chunk of an object read megabytes, and every insert
/// beside one too. Rows of `kv` stay within a page's local payload (about 1,000 bytes for 4 KiB
/// pages); `big` is keyed by integer, its values read only when asked for.
/// See <https://www.sqlite.org/withoutrowid.html#when_to_use_without_rowid>.
const INLINE_MAX: usize = 800;

/// Makes `kv` keep long values in `big`: the table, the triggers that free a value's row when its
/// key is replaced or deleted, and, once for a store written before (no `b` column), the move of
/// its long values.
fn out_of_line(conn: &Connection) -> Result<(), StoreError> {
    let has_b = has_column(conn, "b")?;
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         CREATE TABLE IF NOT EXISTS big (id INTEGER PRIMARY KEY, v BLOB NOT NULL);
         CREATE TRIGGER IF NOT EXISTS kv_big_replaced AFTER UPDATE OF b ON kv
             WHEN old.b IS NOT NULL AND old.b IS NOT new.b BEGIN DELETE FROM big WHERE id = old.b; END;
         CREATE TRIGGER IF NOT EXISTS kv_big_deleted AFTER DELETE ON kv
             WHEN old.b IS NOT NULL BEGIN DELETE FROM big WHERE id = old.b; END;",
    )?;
    let moved = (|| {
        if !has_b {
            conn.execute_batch("ALTER TABLE kv ADD COLUMN b INTEGER")?;
            let long: Vec<Vec<u8>> = conn
                .prepare("SELECT k FROM kv WHERE length(v) > ?1")?
                .query_map([INLINE_MAX as i64], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for k in &long {
                conn.prepare_cached("INSERT INTO big (v) SELECT v FROM kv WHERE k = ?1")?.execute([k])?;
                let id = conn.last_insert_rowid();
                conn.prepare_cached("UPDATE kv SET v = x'', b = ?2 WHERE k = ?1")?.execute((k, id))?;
            }
            tracing::info!(
                moved = long.len(),
                "store: long values now live out of line, a one-time change of layout; earlier versions of Rampart cannot read this store"
            );
        }
        Ok::<_, StoreError>(())
    })();
    match moved {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Whether the store's `kv` table has `column`.
fn has_column(conn: &Connection, column: &str) -> Result<bool, StoreError> {
    let n: i64 = conn
        .prepare("SELECT count(*) FROM pragma_table_info('kv', 'main') WHERE name = ?1")?
        .query_row([column], |r| r.get(0))?;
    Ok(n > 0)
}

pub(crate) fn get(conn: &Connection, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn.prepare_cached(GET)?.query_row([key], |r| r.get(0)).optional()?)
}

pub(crate) fn scan_prefix(
    conn: &Connection,
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
    reverse: bool,
) -> Result<Vec<KeyValue>, StoreError> {
    let crate::Bounds { lo, lo_inclusive, hi } = crate::Bounds::of(prefix, after, reverse);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let order = if reverse { "DESC" } else { "ASC" };
    let lo_op = if lo_inclusive { ">=" } else { ">" };
    // No `LIMIT ?`: SQLite (built with STAT4) plans a statement again for every new value bound
    // to a LIMIT, which cost more than the scan itself. The rows stream in key order from the
    // primary key, so taking `limit` of them stops the scan as early.
    let sql = match hi {
        Some(_) => format!("{SCAN} WHERE kv.k {lo_op} ?1 AND kv.k < ?2 ORDER BY kv.k {order}"),
        None => format!("{SCAN} WHERE kv.k {lo_op} ?1 ORDER BY kv.k {order}"),
    };
    let mut st = conn.prepare_cached(&sql)?;
    let map = |r: &rusqlite::Row<'_>| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?));
    let take = usize::try_from(limit).unwrap_or(usize::MAX);
    let rows = match hi {
        Some(h) => st.query_map(rusqlite::params![lo, h], map)?.take(take).collect::<Result<Vec<_>, _>>()?,
        None => st.query_map(rusqlite::params![lo], map)?.take(take).collect::<Result<Vec<_>, _>>()?,
    };
    Ok(rows)
}

/// A key's value, from `big` where it is kept out of line. One statement (one read transaction,
/// whose locks cost system calls), and no join: SQLite, built with STAT4, prepares a join's
/// statement again for every key bound to it, weighing its join orders by the key.
const GET: &str =
    "SELECT CASE WHEN b IS NULL THEN v ELSE (SELECT big.v FROM big WHERE big.id = kv.b) END FROM kv WHERE k = ?1";

/// Keys and values, each value from `big` where it is kept out of line.
const SCAN: &str = "SELECT kv.k, coalesce(big.v, kv.v) FROM kv LEFT JOIN big ON big.id = kv.b";

/// A transaction on the writer's connection: a savepoint inside its group's transaction.
struct SqliteTx<'c> {
    conn: &'c Connection,
    /// Where the log's packs end when the transaction started (its group's are stored after it).
    packed_through: i64,
}

const UPSERT: &str =
    "INSERT INTO kv (k, v, b) VALUES (?1, ?2, ?3) ON CONFLICT(k) DO UPDATE SET v = excluded.v, b = excluded.b";

/// What `kv` holds for `value`: the value itself, or an empty one and its row in `big`, written
/// here.
fn row_of<'v>(conn: &Connection, value: &'v [u8]) -> Result<(&'v [u8], Option<i64>), StoreError> {
    if value.len() <= INLINE_MAX {
        return Ok((value, None));
    }
    conn.prepare_cached("INSERT INTO big (v) VALUES (?1)")?.execute([value])?;
    Ok((&[], Some(conn.last_insert_rowid())))
}

impl Backend for SqliteTx<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        get(self.conn, key)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let (v, b) = row_of(self.conn, value)?;
        self.conn.prepare_cached(UPSERT)?.execute((key, v, b))?;
        Ok(())
    }

    fn insert_new(&mut self, key: &[u8], value: &[u8]) -> Result<bool, StoreError> {
        if self.conn.prepare_cached("SELECT 1 FROM kv WHERE k = ?1")?.exists([key])? {
            return Ok(false);
        }
        let (v, b) = row_of(self.conn, value)?;
        self.conn.prepare_cached("INSERT INTO kv (k, v, b) VALUES (?1, ?2, ?3)")?.execute((key, v, b))?;
        Ok(true)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.conn.prepare_cached("DELETE FROM kv WHERE k = ?1")?.execute([key])? == 1)
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        scan_prefix(self.conn, prefix, after, limit, reverse)
    }

    fn log_append(&mut self, at: i64, value: &[u8]) -> Result<i64, StoreError> {
        log_append(self.conn, at, value, self.packed_through)
    }

    fn log_range(&self, from: i64, to: i64, limit: usize, reverse: bool) -> Result<Vec<LogEntry>, StoreError> {
        log_range(self.conn, from, to, limit, reverse)
    }

    fn log_delete_through(&mut self, to: i64) -> Result<usize, StoreError> {
        log_delete_through(self.conn, to)
    }

    fn delete_all(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("DELETE FROM log; DELETE FROM logpack; DELETE FROM kv; DELETE FROM big;")?;
        Ok(())
    }

    // A savepoint per job, its two statements prepared once for every job.
    fn begin(&mut self) -> Result<(), StoreError> {
        self.conn.prepare_cached("SAVEPOINT job")?.execute([])?;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.conn.prepare_cached("RELEASE job")?.execute([])?;
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch("ROLLBACK TO job; RELEASE job")?)
    }
}

/// Appends `value` to the log at `at`, or at the first free position after it; returns where.
/// `packed_through` is where packs end: only an append at or before it can meet a pack's member.
fn log_append(conn: &Connection, at: i64, value: &[u8], packed_through: i64) -> Result<i64, StoreError> {
    let mut st = conn.prepare_cached("INSERT INTO log (t, v) VALUES (?1, ?2) ON CONFLICT(t) DO NOTHING")?;
    let mut t = at;
    // A pack that may hold `t`: positions it holds are taken too.
    let mut pack: Option<(i64, Keys)> = None;
    loop {
        if t <= packed_through && pack.as_ref().is_none_or(|(_, keys)| keys.last().is_some_and(|last| last < t)) {
            pack = pack_at(conn, t)?;
        }
        let packed = pack.as_ref().is_some_and(|(_, keys)| keys.holds(t));
        if !packed && st.execute((t, value))? == 1 {
            return Ok(t);
        }
        t = t.checked_add(1).ok_or_else(|| StoreError::Writer("the log is full".into()))?;
    }
}

/// The keys of the pack whose range may hold `at`: the one at or before it (packs never overlap).
fn pack_at(conn: &Connection, at: i64) -> Result<Option<(i64, Keys)>, StoreError> {
    let mut st = conn.prepare_cached("SELECT t, keys FROM logpack WHERE t <= ?1 ORDER BY t DESC LIMIT 1")?;
    let row: Option<(i64, Vec<u8>)> = st.query_row([at], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    row.map(|(t, keys)| Ok((t, Keys::parse(t, &keys)?))).transpose()
}

/// Stores a group's queued appends: sorted by position, each at the first position after its own
/// that no row and no other member takes, in packs of at most [`logpack::MAX_MEMBERS`]. An append
/// at or before the end of the last pack (`packed_through`) is stored as a row of its own, so
/// packs never overlap.
fn append_packed(
    conn: &Connection,
    packed_through: &std::cell::Cell<i64>,
    mut appends: Vec<LogEntry>,
) -> Result<(), StoreError> {
    appends.sort_by_key(|a| a.0);
    let late = appends.partition_point(|a| a.0 <= packed_through.get());
    let fresh = appends.split_off(late);
    for (at, value) in &appends {
        log_append(conn, *at, value, packed_through.get())?;
    }
    let Some(first) = fresh.first().map(|a| a.0) else { return Ok(()) };
    // Rows already in the log where these may land (write events, mostly none).
    let span = i64::try_from(fresh.len()).unwrap_or(i64::MAX);
    let horizon = fresh.last().map_or(first, |a| a.0).saturating_add(span);
    let rows: Vec<i64> = conn
        .prepare_cached("SELECT t FROM log WHERE t >= ?1 AND t <= ?2 ORDER BY t")?
        .query_map([first, horizon], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let taken = |t: i64| -> Result<bool, StoreError> {
        if t <= horizon {
            return Ok(rows.binary_search(&t).is_ok());
        }
        let mut st = conn.prepare_cached("SELECT 1 FROM log WHERE t = ?1")?;
        Ok(st.query_row([t], |_| Ok(())).optional()?.is_some())
    };
    let mut pack: Vec<LogEntry> = Vec::with_capacity(fresh.len().min(logpack::MAX_MEMBERS));
    let mut raw = 0;
    let mut prev = i64::MIN;
    for (at, value) in fresh {
        let mut t = at.max(prev.saturating_add(1));
        while taken(t)? {
            t = t.checked_add(1).ok_or_else(|| StoreError::Writer("the log is full".into()))?;
        }
        if pack.len() == logpack::MAX_MEMBERS || (!pack.is_empty() && raw + value.len() > logpack::MAX_RAW) {
            insert_pack(conn, &std::mem::take(&mut pack))?;
            raw = 0;
        }
        raw += value.len();
        pack.push((t, value));
        prev = t;
    }
    insert_pack(conn, &pack)?;
    packed_through.set(prev);
    Ok(())
}

fn insert_pack(conn: &Connection, members: &[LogEntry]) -> Result<(), StoreError> {
    let (Some(first), Some(last)) = (members.first(), members.last()) else { return Ok(()) };
    let (keys, block) = logpack::encode(members);
    let mut st = conn.prepare_cached("INSERT INTO logpack (t, last, n, keys, block) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    st.execute(rusqlite::params![first.0, last.0, i64::try_from(members.len()).unwrap_or(i64::MAX), keys, block])?;
    Ok(())
}

/// The log entries at `positions`, in their order; each pack read is decompressed once for the
/// positions after it that it holds.
pub(crate) fn log_get_many(conn: &Connection, positions: &[i64]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
    let mut row = conn.prepare_cached("SELECT v FROM log WHERE t = ?1")?;
    // The last pack read: its keys and its values decompressed.
    let mut open: Option<(Keys, Vec<u8>)> = None;
    let mut out = Vec::with_capacity(positions.len());
    for &at in positions {
        if let Some(v) = row.query_row([at], |r| r.get(0)).optional()? {
            out.push(Some(v));
            continue;
        }
        let in_open = open.as_ref().is_some_and(|(keys, _)| keys.holds(at));
        if !in_open {
            open = match pack_at(conn, at)? {
                Some((t, keys)) if keys.holds(at) => {
                    let raw = keys.decompress(&pack_block(conn, t)?)?;
                    Some((keys, raw))
                }
                _ => {
                    out.push(None);
                    continue;
                }
            };
        }
        out.push(open.as_ref().and_then(|(keys, raw)| keys.value(raw, at)).map(<[u8]>::to_vec));
    }
    Ok(out)
}

fn pack_block(conn: &Connection, t: i64) -> Result<Vec<u8>, StoreError> {
    let mut st = conn.prepare_cached("SELECT block FROM logpack WHERE t = ?1")?;
    Ok(st.query_row([t], |r| r.get(0))?)
}

/// Up to `limit` log entries with positions in `from..=to`, in position order (descending when
/// `reverse`): rows and pack members merged.
pub(crate) fn log_range(
    conn: &Connection,
    from: i64,
    to: i64,
    limit: usize,
    reverse: bool,
) -> Result<Vec<LogEntry>, StoreError> {
    // No bound LIMIT, which would make SQLite plan the statement again each time (see
    // `scan_prefix`): rows stream in order and the first `limit` are taken.
    let sql = if reverse {
        "SELECT t, v FROM log WHERE t >= ?1 AND t <= ?2 ORDER BY t DESC"
    } else {
        "SELECT t, v FROM log WHERE t >= ?1 AND t <= ?2 ORDER BY t ASC"
    };
    let mut st = conn.prepare_cached(sql)?;
    let rows = st
        .query_map(rusqlite::params![from, to], |r| Ok((r.get(0)?, r.get(1)?)))?
        .take(limit)
        .collect::<Result<Vec<LogEntry>, _>>()?;
    // Packs in range, in order, until they have given `limit` members: packs never overlap, so
    // later ones hold only positions further on. The first, going forward, is the one at or
    // before `from`.
    let sql = if reverse {
        "SELECT t, keys, block FROM logpack WHERE t <= ?2 ORDER BY t DESC"
    } else {
        "SELECT t, keys, block FROM logpack
         WHERE t >= (SELECT coalesce(max(t), ?1) FROM logpack WHERE t <= ?1) AND t <= ?2 ORDER BY t ASC"
    };
    let mut st = conn.prepare_cached(sql)?;
    let mut packs = st.query(rusqlite::params![from, to])?;
    let mut packed: Vec<LogEntry> = Vec::new();
    while packed.len() < limit
        && let Some(r) = packs.next()?
    {
        let t: i64 = r.get(0)?;
        let keys = Keys::parse(t, r.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?)?;
        if reverse && keys.last().is_some_and(|last| last < from) {
            break;
        }
        let mut members = keys.expand(r.get_ref(2)?.as_blob().map_err(rusqlite::Error::from)?, from, to)?;
        if reverse {
            members.reverse();
        }
        packed.extend(members);
    }
    Ok(merge(rows, packed, limit, reverse))
}

/// The first `limit` of two lists sorted the same way, merged.
fn merge(a: Vec<LogEntry>, b: Vec<LogEntry>, limit: usize, reverse: bool) -> Vec<LogEntry> {
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(limit.min(a.len() + b.len()));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while out.len() < limit {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => (x.0 < y.0) != reverse,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
    out
}

/// Deletes the log entries at positions up to `to`; returns how many. A pack holding entries on
/// both sides of `to` is stored again with the later ones only.
fn log_delete_through(conn: &Connection, to: i64) -> Result<usize, StoreError> {
    let mut deleted = conn.prepare_cached("DELETE FROM log WHERE t <= ?1")?.execute([to])?;
    let straddling = match pack_at(conn, to)? {
        Some((t, keys)) if keys.last().is_some_and(|last| last > to) => Some((t, keys)),
        _ => None,
    };
    // Every pack before the straddling one ends before it starts, so before `to`.
    let whole_through = straddling.as_ref().map_or(to, |(t, _)| t.saturating_sub(1));
    let members: i64 = conn
        .prepare_cached("SELECT coalesce(sum(n), 0) FROM logpack WHERE t <= ?1")?
        .query_row([whole_through], |r| r.get(0))?;
    conn.prepare_cached("DELETE FROM logpack WHERE t <= ?1")?.execute([whole_through])?;
    deleted += usize::try_from(members).unwrap_or(0);
    if let Some((t, keys)) = straddling {
        let block = pack_block(conn, t)?;
        let kept = keys.expand(&block, to.saturating_add(1), i64::MAX)?;
        conn.prepare_cached("DELETE FROM logpack WHERE t = ?1")?.execute([t])?;
        deleted += keys.members.len() - kept.len();
        insert_pack(conn, &kept)?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    fn plan(c: &Connection, sql: &str) -> String {
        let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("a plan");
        let rows = st.query_map([b"k".as_slice()], |r| r.get::<_, String>(3)).expect("plan rows");
        rows.map(|r| r.expect("a row")).collect::<Vec<_>>().join("; ")
    }

    /// A read or a scan finds its keys in `kv` by the primary key, and a long value in `big` by its row.
    #[test]
    fn reads_search_kv_by_key_and_big_by_row() {
        let c = Connection::open_in_memory().expect("a database");
        c.execute_batch("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL, b INTEGER) WITHOUT ROWID;")
            .expect("a table");
        out_of_line(&c).expect("out-of-line values");
        let get = plan(&c, GET);
        assert!(get.contains("SEARCH kv USING PRIMARY KEY (k=?)"), "{get}");
        assert!(get.contains("SEARCH big USING INTEGER PRIMARY KEY (rowid=?)"), "{get}");
        let scan = plan(&c, &format!("{SCAN} WHERE kv.k > ?1 ORDER BY kv.k ASC"));
        assert!(scan.contains("SEARCH kv USING PRIMARY KEY (k>?)") && !scan.contains("TEMP B-TREE"), "{scan}");
        assert!(scan.contains("SEARCH big USING INTEGER PRIMARY KEY (rowid=?)"), "{scan}");
    }

    /// A store written before long values moved out keeps working: its long values move once,
    /// at the writer's first open; a read-only handle reads it as it is, without writing.
    #[test]
    fn a_store_of_the_earlier_layout_is_read_and_moved_once() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("old.db");
        let long = vec![7u8; 100_000];
        {
            let c = Connection::open(&path).expect("a database");
            c.execute_batch(
                "PRAGMA journal_mode=WAL; CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;
                 CREATE TABLE log (t INTEGER PRIMARY KEY, v BLOB NOT NULL);
                 CREATE TABLE logpack (t INTEGER PRIMARY KEY, last INTEGER NOT NULL,
                     n INTEGER NOT NULL, keys BLOB NOT NULL, block BLOB NOT NULL);",
            )
            .expect("the old tables");
            c.execute("INSERT INTO kv VALUES (?1, ?2)", (b"long".as_slice(), &long)).expect("a row");
            c.execute("INSERT INTO kv VALUES (?1, ?2)", (b"short".as_slice(), b"s".as_slice())).expect("a row");
        }
        let ro = SqliteEngine::open_read_only(&path).expect("read-only");
        assert_eq!(ro.read(|c| get(c, b"long")).expect("a read"), Some(long.clone()));
        assert!(!has_column(&Connection::open(&path).expect("a database"), "b").expect("columns"), "nothing written");
        drop(ro);
        let cache = std::sync::Arc::new(ReadCache::default());
        let engine = SqliteEngine::open(&path, cache.clone()).expect("the writer");
        assert_eq!(engine.read(|c| get(c, b"long")).expect("a read"), Some(long.clone()));
        assert_eq!(engine.read(|c| scan_prefix(c, b"", None, 10, false)).expect("a scan").len(), 2);
        drop(engine);
        let c = Connection::open(&path).expect("a database");
        let inline: i64 =
            c.query_row("SELECT length(v) FROM kv WHERE k = x'6c6f6e67'", [], |r| r.get(0)).expect("a row");
        let kept: i64 = c.query_row("SELECT count(*) FROM big", [], |r| r.get(0)).expect("a count");
        assert_eq!((inline, kept), (0, 1));
        // Opened again, nothing moves twice.
        drop(SqliteEngine::open(&path, cache).expect("the writer"));
        let kept: i64 = c.query_row("SELECT count(*) FROM big", [], |r| r.get(0)).expect("a count");
        assert_eq!(kept, 1);
    }

    /// Replacing or deleting a long value frees its row in `big`.
    #[test]
    fn replaced_and_deleted_long_values_leave_nothing_in_big() {
        let c = Connection::open_in_memory().expect("a database");
        c.execute_batch("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL, b INTEGER) WITHOUT ROWID;")
            .expect("a table");
        out_of_line(&c).expect("out-of-line values");
        let mut tx = SqliteTx { conn: &c, packed_through: i64::MIN };
        let long = vec![1u8; 5000];
        tx.put(b"a", &long).expect("put");
        tx.put(b"a", &long).expect("put again");
        tx.put(b"b", &long).expect("put");
        tx.put(b"b", b"short").expect("put short");
        tx.put(b"c", &long).expect("put");
        assert!(!tx.insert_new(b"c", &long).expect("insert_new"));
        tx.delete(b"c").expect("delete");
        let kept: i64 = c.query_row("SELECT count(*) FROM big", [], |r| r.get(0)).expect("a count");
        assert_eq!(kept, 1, "only a's value");
    }

    /// A scan's statement is planned once: a bound LIMIT would have SQLite plan it again on
    /// every call (with STAT4, as the bundled build has it).
    #[test]
    fn scans_are_not_planned_again_per_call() {
        let c = Connection::open_in_memory().expect("a database");
        c.execute_batch("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL, b INTEGER) WITHOUT ROWID;")
            .expect("a table");
        out_of_line(&c).expect("out-of-line values");
        for i in 0..50u8 {
            c.execute("INSERT INTO kv VALUES (?1, ?2, NULL)", (vec![b'a', i], vec![i])).expect("a row");
        }
        for i in 0..10u8 {
            let rows = scan_prefix(&c, b"a", Some(&[b'a', i]), usize::from(i) + 1, false).expect("a scan");
            assert_eq!(rows.len(), usize::from(i) + 1);
            assert_eq!(rows.first().map(|(k, _)| k.clone()), Some(vec![b'a', i + 1]));
        }
        for i in 0..10u8 {
            assert_eq!(get(&c, &[b'a', i]).expect("a read"), Some(vec![i]));
        }
        let st = c.prepare_cached(GET).expect("cached");
        assert_eq!(st.get_status(rusqlite::StatementStatus::Run), 10);
        assert_eq!(st.get_status(rusqlite::StatementStatus::RePrepare), 0);
        drop(st);
        // The very statement the scans ran: run ten times, planned once.
        let st = c.prepare_cached(&format!("{SCAN} WHERE kv.k > ?1 AND kv.k < ?2 ORDER BY kv.k ASC")).expect("cached");
        assert_eq!(st.get_status(rusqlite::StatementStatus::Run), 10);
        assert_eq!(st.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }
}
