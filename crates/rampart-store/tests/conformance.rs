//! The store conformance suite. Every engine must pass it: each test runs against the embedded
//! SQLite engine and against a real PostgreSQL server the suite starts itself (`rampart-pgtest`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use rampart_store::{Db, TxError};

fn open() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("rampart.db")).unwrap();
    (dir, db)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

/// A store of either engine that can be opened again (a restart, or another node).
struct Store {
    dir: tempfile::TempDir,
    url: Option<String>,
}

impl Store {
    fn new(kind: Kind) -> Self {
        let url = (kind == Kind::Postgres).then(|| rampart_pgtest::database().unwrap());
        Self { dir: tempfile::tempdir().unwrap(), url }
    }

    fn open(&self) -> Db {
        match &self.url {
            None => Db::open_sqlite(&self.dir.path().join("rampart.db")).unwrap(),
            Some(url) => Db::open_postgres(url, &rampart_store::PgOptions::default()).unwrap(),
        }
    }
}

/// Each named test, once per engine.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::Kind::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::Kind::Postgres).await })*
        }
    };
}

on_both_engines!(
    long_values_are_kept_replaced_scanned_and_deleted_like_short_ones,
    committed_writes_are_read_back_and_survive_reopen,
    a_failed_transaction_leaves_nothing_behind,
    insert_new_refuses_an_existing_key,
    scans_respect_prefix_cursor_limit_and_direction,
    scans_in_a_transaction_see_its_own_writes_and_deletions,
    concurrent_transactions_are_serialized_and_all_durable,
    queued_writes_are_flushed_by_close,
    a_panicking_transaction_does_not_stop_the_writer,
    cached_reads_see_every_acknowledged_write,
    concurrent_cached_readers_never_see_a_value_older_than_the_last_acknowledged_write,
    the_log_takes_the_next_free_position_reads_ranges_and_deletes_through,
    queued_appends_are_placed_and_read_like_rows,
    a_transaction_sees_its_group_and_its_own_log_cuts,
);

/// Values of every length behave alike: a store may keep long ones apart (SQLite does, past a
/// page's local payload), which nothing above it sees.
async fn long_values_are_kept_replaced_scanned_and_deleted_like_short_ones(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    let long = |n: usize, seed: u8| (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect::<Vec<u8>>();
    let (a, b, c) = (long(2 << 20, 1), long(5000, 2), long(801, 3));
    let (a2, b2, c2) = (a.clone(), b.clone(), c.clone());
    db.transact(move |tx| -> Result<(), TxError<()>> {
        tx.put(b"v/a", &a2)?;
        tx.put(b"v/b", &b2)?;
        tx.put(b"v/c", &c2)?;
        tx.put(b"v/d", b"short")?;
        Ok(())
    })
    .await
    .unwrap();
    let scanned = db.scan_prefix(b"v/", None, 10, false).unwrap();
    let values: Vec<&[u8]> = scanned.iter().map(|(_, v)| v.as_slice()).collect();
    assert_eq!(values, [&a[..], &b[..], &c[..], b"short"]);
    // Long to short, short to long, long to long; a long key is not inserted over; one deleted.
    let (a3, d3) = (a.clone(), long(70_000, 4));
    let d4 = d3.clone();
    db.transact(move |tx| -> Result<(), TxError<()>> {
        tx.put(b"v/a", b"now short")?;
        tx.put(b"v/d", &d4)?;
        tx.put(b"v/c", &a3)?;
        assert!(!tx.insert_new(b"v/b", b"other")?);
        assert!(tx.insert_new(b"v/e", &a3)?);
        assert!(tx.delete(b"v/b")?);
        Ok(())
    })
    .await
    .unwrap();
    drop(db);
    let db = store.open();
    assert_eq!(db.get(b"v/a").unwrap().as_deref(), Some(&b"now short"[..]));
    assert_eq!(db.get(b"v/b").unwrap(), None);
    assert_eq!(db.get(b"v/c").unwrap().as_deref(), Some(&a[..]));
    assert_eq!(db.get(b"v/d").unwrap().as_deref(), Some(&d3[..]));
    let keys: Vec<Vec<u8>> = db.scan_prefix(b"v/", None, 10, true).unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [b"v/e".to_vec(), b"v/d".to_vec(), b"v/c".to_vec(), b"v/a".to_vec()]);
}

async fn committed_writes_are_read_back_and_survive_reopen(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    db.transact(|tx| -> Result<(), TxError<()>> {
        tx.put(b"a/1", b"one")?;
        tx.put(b"a/2", b"two")?;
        assert_eq!(tx.get(b"a/1")?.as_deref(), Some(&b"one"[..]), "a transaction reads its own writes");
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(db.get(b"a/2").unwrap().as_deref(), Some(&b"two"[..]));
    db.close();
    drop(db);
    let db = store.open();
    assert_eq!(db.get(b"a/1").unwrap().as_deref(), Some(&b"one"[..]));
}

async fn a_failed_transaction_leaves_nothing_behind(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    let r = db
        .transact(|tx| {
            tx.put(b"k", b"v").map_err(|_| "store")?;
            Err::<(), _>("refused")
        })
        .await;
    assert!(matches!(r, Err(TxError::Aborted("refused"))));
    assert_eq!(db.get(b"k").unwrap(), None);
}

async fn insert_new_refuses_an_existing_key(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    let first = db.transact(|tx| tx.insert_new(b"u/alice", b"1").map_err(|_| ())).await.unwrap();
    let second = db.transact(|tx| tx.insert_new(b"u/alice", b"2").map_err(|_| ())).await.unwrap();
    assert!(first);
    assert!(!second);
    assert_eq!(db.get(b"u/alice").unwrap().as_deref(), Some(&b"1"[..]));
}

async fn scans_respect_prefix_cursor_limit_and_direction(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    db.transact(|tx| -> Result<(), TxError<()>> {
        for k in ["a/0", "b/1", "b/2", "b/3", "b\u{ff}", "c/0"] {
            tx.put(k.as_bytes(), b"x")?;
        }
        Ok(())
    })
    .await
    .unwrap();
    let keys =
        |v: Vec<(Vec<u8>, Vec<u8>)>| v.into_iter().map(|(k, _)| String::from_utf8(k).unwrap()).collect::<Vec<_>>();
    assert_eq!(keys(db.scan_prefix(b"b/", None, 10, false).unwrap()), ["b/1", "b/2", "b/3"]);
    assert_eq!(keys(db.scan_prefix(b"b/", Some(b"b/1"), 1, false).unwrap()), ["b/2"]);
    assert_eq!(keys(db.scan_prefix(b"b/", None, 2, true).unwrap()), ["b/3", "b/2"]);
    assert_eq!(keys(db.scan_prefix(b"b/", Some(b"b/2"), 10, true).unwrap()), ["b/1"]);
    assert_eq!(keys(db.scan_prefix(b"b/", Some(b"a"), 10, false).unwrap()), ["b/1", "b/2", "b/3"]);
}

async fn concurrent_transactions_are_serialized_and_all_durable(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            db.transact(move |tx| -> Result<(), TxError<()>> {
                // Read-modify-write of one counter: lost updates would show as a smaller total.
                let n = tx.get(b"counter")?.map_or(0u32, |v| u32::from_le_bytes(v.try_into().unwrap_or([0; 4])));
                tx.put(b"counter", &(n + 1).to_le_bytes())?;
                tx.put(format!("item/{i:04}").as_bytes(), b"x")?;
                Ok(())
            })
            .await
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    db.close();
    drop(db);
    let db = store.open();
    assert_eq!(db.get(b"counter").unwrap(), Some(200u32.to_le_bytes().to_vec()));
    assert_eq!(db.scan_prefix(b"item/", None, 1000, false).unwrap().len(), 200);
}

async fn queued_writes_are_flushed_by_close(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    for i in 0..100u32 {
        db.put_later(vec![(format!("ev/{i:03}").into_bytes(), b"e".to_vec())]).unwrap();
    }
    db.close();
    drop(db);
    let db = store.open();
    assert_eq!(db.scan_prefix(b"ev/", None, 1000, false).unwrap().len(), 100);
}

async fn a_panicking_transaction_does_not_stop_the_writer(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    let r = db
        .transact(|tx| -> Result<(), TxError<()>> {
            tx.put(b"p", b"1")?;
            panic!("boom");
        })
        .await;
    assert!(r.is_err());
    assert_eq!(db.get(b"p").unwrap(), None);
    db.transact(|tx| tx.put(b"q", b"1").map_err(|_| ())).await.unwrap();
    assert_eq!(db.get(b"q").unwrap().as_deref(), Some(&b"1"[..]));
}

async fn cached_reads_see_every_acknowledged_write(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    assert_eq!(db.get_cached(b"akey/A").unwrap(), None);
    db.transact(|tx| tx.put(b"akey/A", b"v1").map_err(|_| ())).await.unwrap();
    assert_eq!(
        db.get_cached(b"akey/A").unwrap().as_deref(),
        Some(&b"v1"[..]),
        "a cached absence must not survive an insert"
    );
    db.transact(|tx| tx.put(b"akey/A", b"v2").map_err(|_| ())).await.unwrap();
    assert_eq!(db.get_cached(b"akey/A").unwrap().as_deref(), Some(&b"v2"[..]));
    db.transact(|tx| tx.delete(b"akey/A").map(|_| ()).map_err(|_| ())).await.unwrap();
    assert_eq!(db.get_cached(b"akey/A").unwrap(), None);
    db.transact(|tx| tx.put(b"akey/B", b"b").map_err(|_| ())).await.unwrap();
    assert!(db.get_cached(b"akey/B").unwrap().is_some());
    db.transact(|tx| tx.delete_all().map_err(|_| ())).await.unwrap();
    assert_eq!(db.get_cached(b"akey/B").unwrap(), None);
}

async fn concurrent_cached_readers_never_see_a_value_older_than_the_last_acknowledged_write(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (db, stop) = (db.clone(), stop.clone());
        readers.push(std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = db.get_cached(b"n").unwrap();
            }
        }));
    }
    for i in 0u32..300 {
        db.transact(move |tx| tx.put(b"n", &i.to_le_bytes()).map_err(|_| ())).await.unwrap();
        let seen = db.get_cached(b"n").unwrap().unwrap();
        assert_eq!(&*seen, &i.to_le_bytes()[..], "write {i} acknowledged but an older value was served");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
}

#[tokio::test]
async fn a_read_only_handle_reads_beside_the_writer_and_refuses_writes() {
    let (dir, db) = open();
    db.transact(|tx| -> Result<(), TxError<()>> { Ok(tx.put(b"k", b"v1")?) }).await.unwrap();
    let ro = Db::open_sqlite_read_only(&dir.path().join("rampart.db")).unwrap();
    assert_eq!(ro.get(b"k").unwrap().as_deref(), Some(&b"v1"[..]));
    // The writer keeps committing while the reader is open, and the reader sees it.
    db.transact(|tx| -> Result<(), TxError<()>> { Ok(tx.put(b"k", b"v2")?) }).await.unwrap();
    assert_eq!(ro.get(b"k").unwrap().as_deref(), Some(&b"v2"[..]));
    let refused = ro.transact(|tx| -> Result<(), TxError<()>> { Ok(tx.put(b"k", b"v3")?) }).await;
    assert!(refused.is_err(), "a read-only handle must not write");
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v2"[..]));
    assert!(Db::open_sqlite_read_only(&dir.path().join("missing.db")).is_err(), "nothing is created");
}

async fn the_log_takes_the_next_free_position_reads_ranges_and_deletes_through(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    let at = db
        .transact(|tx| -> Result<Vec<i64>, TxError<()>> {
            let a = tx.log_append(100, b"a")?;
            let b = tx.log_append(100, b"b")?;
            let c = tx.log_append(50, b"c")?;
            assert_eq!(tx.log_range(0, i64::MAX, 10, false)?.len(), 3, "a transaction reads its own appends");
            Ok(vec![a, b, c])
        })
        .await
        .unwrap();
    assert_eq!(at, [100, 101, 50], "a taken position moves the append to the next free one");
    db.log_append_later(101, b"d".to_vec()).unwrap();
    let failed = db.transact(|tx| {
        tx.log_append(7, b"gone").map_err(|_| "store")?;
        Err::<(), _>("refused")
    });
    assert!(failed.await.is_err());
    db.close();
    drop(db);
    let db = store.open();
    let all = db.log_range(i64::MIN, i64::MAX, 10, false).unwrap();
    let positions: Vec<i64> = all.iter().map(|(t, _)| *t).collect();
    assert_eq!(positions, [50, 100, 101, 102], "durable, queued appends included; the aborted one is not");
    assert_eq!(all[3].1, b"d");
    assert_eq!(db.log_get(101).unwrap().as_deref(), Some(&b"b"[..]));
    assert_eq!(db.log_get(99).unwrap(), None);
    let newest_two: Vec<i64> = db.log_range(51, 200, 2, true).unwrap().iter().map(|(t, _)| *t).collect();
    assert_eq!(newest_two, [102, 101]);
    let deleted = db.transact(|tx| tx.log_delete_through(100).map_err(|_| ())).await.unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(db.log_range(i64::MIN, i64::MAX, 10, false).unwrap().len(), 2);
    db.transact(|tx| tx.delete_all().map_err(|_| ())).await.unwrap();
    assert!(db.log_range(i64::MIN, i64::MAX, 10, false).unwrap().is_empty(), "a reset empties the log too");
}

/// The positions of the log's packs, from the SQLite file itself: `(first, last, members)`.
fn packs(dir: &tempfile::TempDir) -> Vec<(i64, i64, i64)> {
    let conn = rusqlite::Connection::open(dir.path().join("rampart.db")).unwrap();
    let mut st = conn.prepare("SELECT t, last, n FROM logpack ORDER BY t").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().collect::<Result<_, _>>().unwrap()
}

async fn queued_appends_are_placed_and_read_like_rows(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    // A transaction's rows first, then a burst of queued appends around and on them, out of order
    // and some at the same position.
    db.transact(|tx| -> Result<(), TxError<()>> {
        tx.log_append(1_010, b"row 1010")?;
        tx.log_append(1_100, b"row 1100")?;
        Ok(())
    })
    .await
    .unwrap();
    let mut asked = Vec::new();
    for i in 0..200i64 {
        let at = 1_000 + (i * 7919) % 150;
        db.log_append_later(at, format!("queued {i} at {at}").into_bytes()).unwrap();
        asked.push((at, format!("queued {i} at {at}")));
    }
    db.transact(|_| Ok::<_, ()>(())).await.unwrap();
    let all = db.log_range(i64::MIN, i64::MAX, 1_000, false).unwrap();
    assert_eq!(all.len(), 202);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "positions are unique and in order");
    assert_eq!(all.iter().find(|(t, _)| *t == 1_010).unwrap().1, b"row 1010", "a row keeps its position");
    for (at, value) in &asked {
        let (t, _) = all.iter().find(|(_, v)| v == value.as_bytes()).expect("every queued append is kept");
        assert!(t >= at, "{value} is at {t}, at or after where it asked");
        assert_eq!(db.log_get(*t).unwrap().as_deref(), Some(value.as_bytes()));
    }
    // Many at once, in any order, with misses: each as `log_get` reads it.
    let mut asking: Vec<i64> = all.iter().map(|(t, _)| *t).rev().step_by(3).collect();
    asking.extend([999, 1_010, i64::MAX, all[5].0]);
    let many = db.log_get_many(&asking).unwrap();
    let one_by_one: Vec<_> = asking.iter().map(|t| db.log_get(*t).unwrap()).collect();
    assert_eq!(many, one_by_one);
    assert_eq!(many.iter().filter(|v| v.is_none()).count(), 2, "999 and the end of time hold nothing");
    if kind == Kind::Sqlite {
        let p = packs(&store.dir);
        assert_eq!(p.iter().map(|x| x.2).sum::<i64>(), 200, "the queued appends are in packs: {p:?}");
        assert!(
            p.len() >= 200usize.div_ceil(64) && p.windows(2).all(|w| w[0].1 < w[1].0),
            "packs never overlap: {p:?}"
        );
    }
    // Ranges and limits merge rows and members, either way round.
    for (from, to, limit) in [(1_005, 1_120, 30), (i64::MIN, 1_050, 7), (1_101, i64::MAX, 500), (1_010, 1_010, 3)] {
        let want: Vec<_> = all.iter().filter(|(t, _)| (from..=to).contains(t)).cloned().collect();
        assert_eq!(db.log_range(from, to, limit, false).unwrap(), want.iter().take(limit).cloned().collect::<Vec<_>>());
        assert_eq!(
            db.log_range(from, to, limit, true).unwrap(),
            want.iter().rev().take(limit).cloned().collect::<Vec<_>>()
        );
    }
    // A transaction's append on a queued append's position moves past it.
    let member = all.iter().find(|(t, _)| *t != 1_010 && *t != 1_100).unwrap().0;
    let placed = db.transact(move |tx| tx.log_append(member, b"late row").map_err(|_| ())).await.unwrap();
    assert!(placed > member && db.log_get(member).unwrap() != Some(b"late row".to_vec()));
    assert_eq!(db.log_get(placed).unwrap().as_deref(), Some(&b"late row"[..]));
}

#[tokio::test]
async fn appends_queued_behind_the_last_pack_are_rows_and_packs_survive_reopen() {
    let (dir, db) = open();
    for at in [500, 600, 700] {
        db.log_append_later(at, format!("{at}").into_bytes()).unwrap();
    }
    db.transact(|_| Ok::<_, ()>(())).await.unwrap();
    db.log_append_later(650, b"late".to_vec()).unwrap();
    db.log_append_later(700, b"on the last".to_vec()).unwrap();
    db.close();
    drop(db);
    assert_eq!(packs(&dir), [(500, 700, 3)], "appends at or before a pack's end do not overlap it");
    let db = Db::open_sqlite(&dir.path().join("rampart.db")).unwrap();
    let all: Vec<(i64, String)> = db
        .log_range(i64::MIN, i64::MAX, 10, false)
        .unwrap()
        .into_iter()
        .map(|(t, v)| (t, String::from_utf8(v).unwrap()))
        .collect();
    let want = [(500, "500"), (600, "600"), (650, "late"), (700, "700"), (701, "on the last")];
    assert_eq!(all, want.map(|(t, v)| (t, v.to_owned())));
    // After a reopen the writer still knows where packs end.
    db.log_append_later(690, b"late again".to_vec()).unwrap();
    db.log_append_later(800, b"new".to_vec()).unwrap();
    db.close();
    drop(db);
    assert_eq!(packs(&dir), [(500, 700, 3), (800, 800, 1)]);
    let db = Db::open_sqlite(&dir.path().join("rampart.db")).unwrap();
    assert_eq!(db.log_get(690).unwrap().as_deref(), Some(&b"late again"[..]));
}

/// Under a stream of large writes (an upload's parts) the checkpointer thread copies the WAL into
/// the database beside the writer, so the WAL restarts well under the writer's own 64 MiB
/// high-water mark (which alone would let it reach about 68 MB here), and every value is in the
/// database after a reopen. A new store has 16 KiB pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_large_writes_keeps_the_wal_bounded_and_loses_nothing() {
    let (dir, db) = open();
    let db = std::sync::Arc::new(db);
    let wal = dir.path().join("rampart.db-wal");
    let largest = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let watch = {
        let (wal, largest) = (wal.clone(), largest.clone());
        tokio::spawn(async move {
            loop {
                let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
                largest.fetch_max(len, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
    };
    let value = |i: u32| -> Vec<u8> { (0..1u32 << 20).map(|j| (i.wrapping_mul(7) ^ j) as u8).collect() };
    let writers: Vec<_> = (0..4u32)
        .map(|w| {
            let db = db.clone();
            tokio::spawn(async move {
                for i in (w * 40)..(w * 40 + 40) {
                    let v = value(i);
                    db.transact(move |tx| tx.put(format!("big/{i:04}").as_bytes(), &v)).await.unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    watch.abort();
    let largest = largest.load(std::sync::atomic::Ordering::Relaxed);
    // 160 MiB written.
    assert!(largest > 0 && largest < 48 << 20, "the WAL grew to {largest} bytes");
    db.close();
    drop(db);
    let c = rusqlite::Connection::open(dir.path().join("rampart.db")).unwrap();
    let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    assert_eq!(page, 16 * 1024);
    drop(c);
    let db = Db::open_sqlite(&dir.path().join("rampart.db")).unwrap();
    for i in (0..160).step_by(13) {
        assert_eq!(db.get(format!("big/{i:04}").as_bytes()).unwrap(), Some(value(i)), "value {i}");
    }
    let (mut seen, mut after) = (0, None::<Vec<u8>>);
    loop {
        let batch = db.scan_prefix(b"big/", after.as_deref(), 16, false).unwrap();
        let Some((last, _)) = batch.last() else { break };
        after = Some(last.clone());
        seen += batch.len();
    }
    assert_eq!(seen, 160);
}

#[tokio::test]
async fn deleting_through_a_pack_keeps_its_later_members() {
    let (dir, db) = open();
    for at in 0..100 {
        db.log_append_later(at * 10, format!("{at}").into_bytes()).unwrap();
    }
    db.transact(|tx| tx.log_append(5, b"row").map(|_| ()).map_err(|_| ())).await.unwrap();
    assert_eq!(packs(&dir).len(), 2, "100 members take two packs");
    let deleted = db.transact(|tx| tx.log_delete_through(255).map_err(|_| ())).await.unwrap();
    assert_eq!(deleted, 27, "26 members and a row");
    let left = db.log_range(i64::MIN, i64::MAX, 1_000, false).unwrap();
    assert_eq!(left.len(), 74);
    assert_eq!(left[0], (260, b"26".to_vec()));
    assert_eq!(packs(&dir)[0], (260, 630, 38), "the straddling pack is kept from its first later member");
    let deleted = db.transact(|tx| tx.log_delete_through(i64::MAX).map_err(|_| ())).await.unwrap();
    assert_eq!(deleted, 74);
    assert!(packs(&dir).is_empty());
}

async fn scans_in_a_transaction_see_its_own_writes_and_deletions(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    db.transact(|tx| -> Result<(), TxError<()>> {
        for i in 0..6 {
            tx.put(format!("s/{i}").as_bytes(), b"old")?;
        }
        Ok(())
    })
    .await
    .unwrap();
    let seen = db
        .transact(|tx| -> Result<Vec<(String, String)>, TxError<()>> {
            tx.delete(b"s/0")?;
            tx.delete(b"s/1")?;
            tx.put(b"s/3", b"new")?;
            tx.put(b"s/7", b"added")?;
            let pairs = |v: Vec<(Vec<u8>, Vec<u8>)>| {
                v.into_iter()
                    .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
                    .collect::<Vec<_>>()
            };
            // Two deletions at the front must not shorten a limited scan.
            let first3 = pairs(tx.scan_prefix(b"s/", None, 3, false)?);
            assert_eq!(first3.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["s/2", "s/3", "s/4"]);
            let back = pairs(tx.scan_prefix(b"s/", Some(b"s/4"), 10, true)?);
            assert_eq!(back.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["s/3", "s/2"]);
            assert!(!tx.delete(b"s/0")?, "a deleted key is gone for the rest of its transaction");
            assert!(tx.insert_new(b"s/0", b"again")?, "and may be inserted again");
            Ok(pairs(tx.scan_prefix(b"s/", None, 100, false)?))
        })
        .await
        .unwrap();
    let want = [("s/0", "again"), ("s/2", "old"), ("s/3", "new"), ("s/4", "old"), ("s/5", "old"), ("s/7", "added")];
    assert_eq!(seen, want.map(|(k, v)| (k.to_owned(), v.to_owned())));
    let committed: Vec<_> = db.scan_prefix(b"s/", None, 100, false).unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(committed, want.map(|(k, _)| k.as_bytes().to_vec()));
}

async fn a_transaction_sees_its_group_and_its_own_log_cuts(kind: Kind) {
    let store = Store::new(kind);
    let db = store.open();
    db.transact(|tx| -> Result<(), TxError<()>> {
        for t in [10, 20, 30] {
            tx.log_append(t, b"old")?;
        }
        Ok(())
    })
    .await
    .unwrap();
    // Many transactions at once (so that some share a group), each cutting and appending.
    let mut tasks = Vec::new();
    for i in 0..40i64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            db.transact(move |tx| -> Result<i64, TxError<()>> {
                if i == 0 {
                    assert_eq!(tx.log_delete_through(15)?, 1);
                }
                let at = tx.log_append(100, format!("{i}").as_bytes())?;
                let mine = tx.log_range(at, at, 1, false)?;
                assert_eq!(mine, [(at, format!("{i}").into_bytes())]);
                Ok(at)
            })
            .await
            .unwrap()
        }));
    }
    let mut placed = Vec::new();
    for t in tasks {
        placed.push(t.await.unwrap());
    }
    placed.sort_unstable();
    assert_eq!(placed, (100..140).collect::<Vec<_>>(), "each append took its own position");
    let cut_and_kept = db
        .transact(|tx| -> Result<(usize, Vec<i64>), TxError<()>> {
            let n = tx.log_delete_through(25)?;
            tx.log_append(5, b"after the cut")?;
            let seen = tx.log_range(i64::MIN, 99, 10, false)?.into_iter().map(|(t, _)| t).collect();
            Ok((n, seen))
        })
        .await
        .unwrap();
    assert_eq!(cut_and_kept, (1, vec![5, 30]), "only 20 was left to cut; an append after a cut stays");
    let all: Vec<i64> = db.log_range(i64::MIN, 99, 10, false).unwrap().into_iter().map(|(t, _)| t).collect();
    assert_eq!(all, [5, 30]);
}

/// Two nodes on one PostgreSQL database: a write on one is served by the other's cache within a
/// second; transactions of both are serialized; a lease has one holder, and moves when it leaves.
#[tokio::test]
async fn postgres_nodes_share_writes_transactions_and_leases() {
    let store = Store::new(Kind::Postgres);
    let (a, b) = (store.open(), store.open());
    a.transact(|tx| tx.put(b"akey/X", b"v1").map_err(|_| ())).await.unwrap();
    assert_eq!(b.get_cached(b"akey/X").unwrap().as_deref(), Some(&b"v1"[..]));
    a.transact(|tx| tx.put(b"akey/X", b"v2").map_err(|_| ())).await.unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while b.get_cached(b"akey/X").unwrap().as_deref() != Some(&b"v2"[..]) {
        assert!(std::time::Instant::now() < until, "node B still serves the old value after a second");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Read-modify-write from both nodes at once: a lost update would show as a smaller total.
    let mut tasks = Vec::new();
    for i in 0..100u32 {
        let db = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            db.transact(|tx| -> Result<(), TxError<()>> {
                let n = tx.get(b"counter")?.map_or(0u32, |v| u32::from_le_bytes(v.try_into().unwrap_or([0; 4])));
                Ok(tx.put(b"counter", &(n + 1).to_le_bytes())?)
            })
            .await
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(a.get(b"counter").unwrap(), Some(100u32.to_le_bytes().to_vec()));
    // A lease: asked for by both, held by one; when its holder goes, the other takes it.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !(a.lease("test") || b.lease("test")) {
        assert!(std::time::Instant::now() < until, "nobody took the lease");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert!(a.lease("test") != b.lease("test"), "exactly one node holds a lease");
    let (holder, other) = if a.lease("test") { (a, b) } else { (b, a) };
    holder.close();
    drop(holder);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !other.lease("test") {
        assert!(std::time::Instant::now() < until, "the lease did not move to the node left");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn postgres_refuses_a_newer_schema_and_bad_urls_with_clear_errors() {
    let store = Store::new(Kind::Postgres);
    drop(store.open());
    let url = store.url.clone().unwrap();
    let err = Db::open_postgres("postgres://127.0.0.1:1/none?sslmode=disable", &Default::default()).unwrap_err();
    assert!(err.is_unavailable(), "a database that is not there is unreachable: {err}");
    let err = Db::open_postgres("postgres://h/db?sslmode=sometimes", &Default::default()).unwrap_err();
    assert!(err.to_string().contains("sslmode=sometimes"), "{err}");
    // A node of an older build meets a database a newer one migrated.
    let newer = rampart_store::SCHEMA_VERSION + 1;
    let db = store.open();
    drop(db);
    let out = std::process::Command::new(rampart_pgtest::server().unwrap().program("psql"))
        .args([url.as_str(), "-c", &format!("UPDATE rampart_schema SET version = {newer}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = Db::open_postgres(&url, &Default::default()).unwrap_err();
    assert!(err.to_string().contains(&format!("schema version {newer}")), "{err}");
}

/// Fills a store with keys (some binary, some large) and log entries, some queued.
async fn fill(db: &Db, n: u32) {
    let batch: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
        .map(|i| {
            let mut k = format!("k/{i:05}/").into_bytes();
            k.extend_from_slice(&[0, 255, (i % 256) as u8]);
            (k, vec![(i % 251) as u8; (i as usize * 37) % 3000])
        })
        .collect();
    db.transact(move |tx| -> Result<(), TxError<()>> {
        for (k, v) in &batch {
            tx.put(k, v)?;
        }
        for i in 0..n {
            tx.log_append(1_000 + i64::from(i) * 3, format!("row {i}").as_bytes())?;
        }
        Ok(())
    })
    .await
    .unwrap();
    for i in 0..n {
        db.log_append_later(1_001 + i64::from(i) * 3, format!("queued {i}").into_bytes()).unwrap();
    }
    db.transact(|_| Ok::<_, ()>(())).await.unwrap();
}

#[tokio::test]
async fn a_store_copies_to_postgres_and_back_verified() {
    let first = Store::new(Kind::Sqlite);
    let source = first.open();
    fill(&source, 2_500).await;
    let pg = Store::new(Kind::Postgres);
    let middle = pg.open();
    let mut seen = Vec::new();
    let copied = rampart_store::copy::copy(&source, &middle, |p| seen.push(p)).await.unwrap();
    assert_eq!((copied.keys, copied.log_entries), (2_500, 5_000));
    assert_eq!(copied, rampart_store::copy::summarize(&source).unwrap());
    assert!(seen.len() >= 3 && seen.windows(2).all(|w| w[0].keys <= w[1].keys), "progress as it goes: {seen:?}");
    assert_eq!(seen.last().map(|p| (p.keys, p.log_entries)), Some((2_500, 5_000)));
    // Into a store that holds anything: refused, and nothing is written.
    let again = rampart_store::copy::copy(&source, &middle, |_| {}).await;
    assert!(matches!(again, Err(rampart_store::copy::CopyError::TargetNotEmpty)), "{again:?}");
    // And back into a new embedded store: the same bytes at the same keys and positions.
    let back = Store::new(Kind::Sqlite);
    let last = back.open();
    let round = rampart_store::copy::copy(&middle, &last, |_| {}).await.unwrap();
    assert_eq!(round, copied);
    assert_eq!(last.log_get(1_001).unwrap().as_deref(), Some(&b"queued 0"[..]));
    // A different store sums up differently.
    last.transact(|tx| tx.put(b"k/00000/\0\xff\0", b"changed").map_err(|_| ())).await.unwrap();
    assert_ne!(rampart_store::copy::summarize(&last).unwrap(), copied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_is_a_consistent_store_taken_beside_its_writer() {
    let store = Store::new(Kind::Sqlite);
    let db = store.open();
    fill(&db, 500).await;
    // Writers keep committing pairs that must always be seen together.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                db.transact(move |tx| -> Result<(), TxError<()>> {
                    tx.put(format!("pair/{i:06}/a").as_bytes(), b"1")?;
                    tx.put(format!("pair/{i:06}/b").as_bytes(), b"1")?;
                    Ok(())
                })
                .await
                .unwrap();
                i += 1;
            }
            i
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let to = store.dir.path().join("backup.db");
    let path = store.dir.path().join("rampart.db");
    let size = tokio::task::spawn_blocking({
        let to = to.clone();
        move || rampart_store::backup_embedded(&path, &to)
    })
    .await
    .unwrap()
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 0 && size > 0);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&to).unwrap().permissions().mode() & 0o777, 0o600);
    // The backup opens as a store; every pair in it is whole.
    let restored = Db::open_sqlite(&to).unwrap();
    let pairs = restored.scan_prefix(b"pair/", None, usize::MAX >> 1, false).unwrap();
    assert_eq!(pairs.len() % 2, 0, "a transaction was cut in half");
    assert!(restored.get(b"k/00499/\0\xff\xf3").unwrap().is_some(), "what was there before is there");
    assert_eq!(restored.log_range(i64::MIN, i64::MAX, 2_000, false).unwrap().len(), 1_000);
    // A backup never replaces a file.
    let again = rampart_store::backup_embedded(&store.dir.path().join("rampart.db"), &to);
    assert!(again.is_err());
}

/// TLS to the database, checked as libpq's sslmode says: verify-full against the right CA
/// connects; against another CA it is refused; require encrypts without checking.
#[tokio::test]
async fn postgres_tls_is_verified_as_sslmode_says() {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&key, &issuer).unwrap();
    let options = rampart_pgtest::Options { durable: false, tls: Some((cert.pem(), key.serialize_pem())) };
    let server = rampart_pgtest::start_server(&options).unwrap();
    server.create_database("tls").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let base = format!("postgres://postgres@localhost:{}/tls", server.port);
    let open = |query: String| Db::open_postgres(&format!("{base}?{query}"), &rampart_store::PgOptions::default());

    let db = open(format!("sslmode=verify-full&sslrootcert={}", ca_file.display())).unwrap();
    db.transact(|tx| tx.put(b"k", b"over tls").map_err(|_| ())).await.unwrap();
    // The server itself says this node's connections are encrypted, every one of them.
    let out = std::process::Command::new(server.program("psql"))
        .arg(format!("{base}?sslmode=disable"))
        .args([
            "-tAc",
            "SELECT count(*) FILTER (WHERE s.ssl) || ' ' || count(*) FILTER (WHERE NOT s.ssl) \
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'rampart'",
        ])
        .output()
        .unwrap();
    let counts = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let (tls, plain) = counts.split_once(' ').unwrap();
    assert!(tls.parse::<u32>().unwrap() >= 2 && plain == "0", "TLS / plain connections of the node: {counts}");
    db.close();
    drop(db);

    let other_ca_key = rcgen::KeyPair::generate().unwrap();
    let mut other = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    other.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let other_ca = dir.path().join("other.pem");
    std::fs::write(&other_ca, other.self_signed(&other_ca_key).unwrap().pem()).unwrap();
    let refused = open(format!("sslmode=verify-full&sslrootcert={}", other_ca.display()));
    assert!(refused.is_err(), "a certificate from another CA is refused under verify-full");

    let db = open("sslmode=require".to_owned()).unwrap();
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"over tls"[..]));
    server.kill().unwrap();
}
