//! Copies trails' delivered files to a directory on disk (`trail_export_dir`), for tools that
//! read files rather than S3. The delivery transaction queues each file it writes
//! (`rampart_cloudtrail::pending_exports`); this copies them as `DIR/BUCKET/KEY` — written to a temporary
//! name, synced, then renamed, so a crash never leaves a half-written file — and a digest's
//! signature beside it as `KEY.metadata.json`, then takes them off the queue. A crash between
//! copy and dequeue copies the file again on the next run, to the same bytes. Each run that copied
//! files also writes every validated trail's description and public keys to
//! `DIR/.rampart-trails/ACCOUNT/TRAIL.json`, so the copies can be validated without the store.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use rampart_s3::StoredObjects;
use std::sync::Arc;

use rampart_store::{Db, Sealer};

/// Most files copied per run.
const PER_RUN: usize = 1000;

/// Where `bucket/key` goes under `dir`; `None` for a name that would leave it (`..`, absolute).
fn target(dir: &Path, bucket: &str, key: &str) -> Option<PathBuf> {
    let plain = |s: &str| !s.is_empty() && s != "." && s != ".." && !s.contains('\\');
    let ok = plain(bucket) && !bucket.contains('/') && key.split('/').all(plain);
    let rel = Path::new(bucket).join(key);
    (ok && rel.components().all(|c| matches!(c, Component::Normal(_)))).then(|| dir.join(rel))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced, renamed
/// over, and the directory synced.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().ok_or_else(|| std::io::Error::other("no parent directory"))?;
    std::fs::create_dir_all(parent)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(parent)?.sync_all()
}

/// Copies up to [`PER_RUN`] queued files; returns them (to dequeue).
fn copy(db: &Db, sealer: &Sealer, dir: &Path) -> Result<Vec<(String, String)>, String> {
    let pending = rampart_cloudtrail::pending_exports(db, PER_RUN).map_err(|e| e.message)?;
    let objects = StoredObjects { db, sealer };
    for (bucket, key) in &pending {
        let Some(path) = target(dir, bucket, key) else {
            tracing::error!(bucket, key, "a trail file's name would leave the export directory; not exported");
            continue;
        };
        // A file deleted from the bucket since is gone; nothing to copy.
        let Some((bytes, metadata)) = objects.get(bucket, key)? else { continue };
        write_atomic(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        if !metadata.is_empty() {
            let side = PathBuf::from(format!("{}.metadata.json", path.display()));
            let json = serde_json::to_vec(&metadata).map_err(|e| e.to_string())?;
            write_atomic(&side, &json).map_err(|e| format!("{}: {e}", side.display()))?;
        }
    }
    // Beside the files, what validating them needs: each trail's place and public keys.
    if !pending.is_empty() {
        for t in rampart_cloudtrail::digest::exported_trails(db).map_err(|e| e.message)? {
            let path = exported_trail_path(dir, &t.files.account, &t.files.name);
            let json = serde_json::to_vec_pretty(&t).map_err(|e| e.to_string())?;
            write_atomic(&path, &json).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(pending)
}

/// Where an export directory keeps a trail's description and public keys:
/// `DIR/.rampart-trails/ACCOUNT/TRAIL.json` (a bucket name cannot start with a dot).
pub fn exported_trail_path(dir: &Path, account: &str, trail: &str) -> PathBuf {
    dir.join(".rampart-trails").join(account).join(format!("{trail}.json"))
}

/// One run: copies queued files on a blocking thread, then dequeues them. Returns how many.
pub async fn run(db: &Db, sealer: &Arc<Sealer>, dir: &Path) -> Result<usize, String> {
    let (db2, sealer2, dir2) = (db.clone(), sealer.clone(), dir.to_owned());
    let done = tokio::task::spawn_blocking(move || copy(&db2, &sealer2, &dir2)).await.map_err(|e| e.to_string())??;
    let n = done.len();
    if n > 0 {
        db.transact(move |tx| rampart_cloudtrail::exported(tx, &done)).await.map_err(|e| format!("{e:?}"))?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_leave_the_directory_are_refused() {
        let dir = Path::new("/x");
        assert_eq!(target(dir, "b", "AWSLogs/1/a.json.gz"), Some(PathBuf::from("/x/b/AWSLogs/1/a.json.gz")));
        for bad in ["../etc/passwd", "/abs", "a/../../b", "./a", "", "a//b", "a\\b"] {
            assert_eq!(target(dir, "b", bad), None, "{bad}");
        }
    }
}
