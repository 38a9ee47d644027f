//! The data directory: creation with private permissions, the master key, the root credentials
//! file, and the refusal to start when secrets are readable by others.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rampart_store::{MASTER_KEY_LEN, Sealer};
use zeroize::Zeroizing;

use crate::config::MasterKeySource;

/// A data-directory problem that stops the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("cannot {op} {path}: {source}{hint}", hint = io_hint(source, path))]
    Io { op: &'static str, path: PathBuf, source: std::io::Error },
    #[error(
        "{0} is readable by group or others (mode {1:o}); run `chmod {mode} {0}` as its owner",
        mode = if *.2 { "700" } else { "600" }
    )]
    Permissions(String, u32, bool),
    #[error("the master key in {0} is not base64 of {MASTER_KEY_LEN} bytes")]
    BadMasterKey(String),
    #[error(
        "the master key file {key} is missing, but {db} already holds data sealed with a master key; \
         restore the key from your backup to {key} (or give it with --master-key-file or RAMPART_MASTER_KEY). \
         Rampart never makes a new key for a store that has data: nothing sealed with the old key could be opened"
    )]
    MissingMasterKey { key: PathBuf, db: PathBuf },
}

/// Advice for the I/O errors an operator can fix.
fn io_hint(e: &std::io::Error, path: &Path) -> String {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => format!(
            " (the user running Rampart needs to own {} and {}, or use another --data-dir)",
            parent.display(),
            path.display()
        ),
        std::io::ErrorKind::NotFound => String::new(),
        std::io::ErrorKind::ReadOnlyFilesystem => " (the file system is read-only: use another --data-dir)".to_owned(),
        _ => String::new(),
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DataDirError + 'a {
    move |source| DataDirError::Io { op, path: path.to_owned(), source }
}

/// Fails when a file (or directory) grants group or others any access.
pub fn check_private(path: &Path) -> Result<(), DataDirError> {
    match fs::metadata(path) {
        Ok(m) => {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(DataDirError::Permissions(path.display().to_string(), mode, m.is_dir()));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("inspect", path)(e)),
    }
}

/// The database's file name inside the data directory.
pub const DB_FILE: &str = "rampart.db";

/// Creates the data directory (mode 0700) and the database file (mode 0600) when missing, and
/// checks the permissions of what is there.
pub fn prepare(dir: &Path) -> Result<PathBuf, DataDirError> {
    prepare_dir(dir)?;
    let db = dir.join(DB_FILE);
    if !db.exists() {
        // SQLite gives its -wal and -shm files the database file's permissions.
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&db)
            .map_err(io("create the database file", &db))?;
    }
    // The directory's own secrets were checked by `prepare_dir`; the database's files here.
    for f in ["rampart.db", "rampart.db-wal", "rampart.db-shm"] {
        check_private(&dir.join(f))?;
    }
    Ok(db)
}

/// Creates the data directory (mode 0700) when missing and checks its permissions and those of
/// its secrets; for a node whose store is elsewhere (it keeps the master key, TLS files and the
/// root credentials of a first start here).
pub fn prepare_dir(dir: &Path) -> Result<(), DataDirError> {
    if !dir.exists() {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io("create the data directory", dir))?;
    }
    check_private(dir)?;
    for f in ["master.key", "root-credentials"] {
        check_private(&dir.join(f))?;
    }
    Ok(())
}

/// The database file of an existing data directory, its permissions checked; creates nothing.
pub fn prepare_existing(dir: &Path) -> Result<PathBuf, crate::StartError> {
    let db = dir.join(DB_FILE);
    if !db.exists() {
        return Err(crate::StartError::NoStore(db));
    }
    prepare(dir).map_err(crate::StartError::from)
}

/// Writes a new private file (mode 0600); fails if it exists.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), DataDirError> {
    let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io("create", path))?;
    f.write_all(contents).map_err(io("write", path))?;
    f.sync_all().map_err(io("write", path))
}

fn parse_key(text: &str, origin: &str) -> Result<Zeroizing<Vec<u8>>, DataDirError> {
    let key = Zeroizing::new(
        data_encoding::BASE64
            .decode(text.trim().as_bytes())
            .map_err(|_| DataDirError::BadMasterKey(origin.to_owned()))?,
    );
    if key.len() != MASTER_KEY_LEN {
        return Err(DataDirError::BadMasterKey(origin.to_owned()));
    }
    Ok(key)
}

/// Loads the master key and builds the sealer. `<data-dir>/master.key` is generated only for a
/// store that holds no data (`store_has_data` false): a new key could open nothing already sealed.
pub fn master_key(dir: &Path, source: &MasterKeySource, store_has_data: bool) -> Result<Sealer, DataDirError> {
    let key = match source {
        MasterKeySource::Inline(k) => {
            let text = String::from_utf8_lossy(k);
            parse_key(&text, "RAMPART_MASTER_KEY")?
        }
        MasterKeySource::File(path) => {
            check_private(path)?;
            let text = Zeroizing::new(fs::read_to_string(path).map_err(io("read the master key file", path))?);
            parse_key(&text, &path.display().to_string())?
        }
        MasterKeySource::DataDir => {
            let path = dir.join("master.key");
            if !path.exists() {
                if store_has_data {
                    return Err(DataDirError::MissingMasterKey { key: path, db: dir.join(DB_FILE) });
                }
                let fresh =
                    Sealer::generate_key().map_err(|_| DataDirError::BadMasterKey("the random source".into()))?;
                let text = Zeroizing::new(data_encoding::BASE64.encode(fresh.as_ref()) + "\n");
                write_private(&path, text.as_bytes())?;
            }
            check_private(&path)?;
            let text = Zeroizing::new(fs::read_to_string(&path).map_err(io("read the master key file", &path))?);
            parse_key(&text, &path.display().to_string())?
        }
    };
    Sealer::new(&key).map_err(|_| DataDirError::BadMasterKey("the master key".into()))
}

/// The root credentials file's name inside the data directory.
pub const ROOT_CREDENTIALS: &str = "root-credentials";

/// Writes `<data-dir>/root-credentials` in the AWS shared-credentials format (profile `default`).
pub fn write_root_credentials(dir: &Path, access_key_id: &str, secret: &str) -> Result<PathBuf, DataDirError> {
    let path = dir.join(ROOT_CREDENTIALS);
    let text =
        Zeroizing::new(format!("[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret}\n"));
    write_private(&path, text.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_files_readable_by_others_and_keeps_its_own_private() {
        let guard = tempfile::tempdir().unwrap();
        let dir = guard.path().join("data");
        prepare(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        let sealer = master_key(&dir, &MasterKeySource::DataDir, false).unwrap();
        let key_path = dir.join("master.key");
        assert_eq!(fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
        // The same key is loaded again: what it sealed still opens.
        let sealed = sealer.seal(b"s", b"ctx").unwrap();
        assert_eq!(
            master_key(&dir, &MasterKeySource::DataDir, false).unwrap().open(&sealed, b"ctx").unwrap().as_slice(),
            b"s"
        );
        fs::set_permissions(&key_path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(master_key(&dir, &MasterKeySource::DataDir, false), Err(DataDirError::Permissions(..))));
        assert!(matches!(prepare(&dir), Err(DataDirError::Permissions(..))));
        let bad = MasterKeySource::Inline(Zeroizing::new(b"c2hvcnQ=".to_vec()));
        assert!(matches!(master_key(&dir, &bad, false), Err(DataDirError::BadMasterKey(_))));
        // A store with data never gets a new key.
        fs::remove_file(&key_path).unwrap();
        let e = master_key(&dir, &MasterKeySource::DataDir, true).unwrap_err();
        assert!(matches!(e, DataDirError::MissingMasterKey { .. }), "{e}");
        assert!(e.to_string().contains("restore the key from your backup"), "{e}");
        assert!(!key_path.exists());
    }

    #[test]
    fn io_errors_name_the_operation_and_give_advice() {
        let e = io("create the data directory", Path::new("/srv/rampart/data"))(std::io::Error::from(
            std::io::ErrorKind::PermissionDenied,
        ));
        let text = e.to_string();
        assert!(text.starts_with("cannot create the data directory /srv/rampart/data: "), "{text}");
        assert!(text.contains("needs to own /srv/rampart and /srv/rampart/data"), "{text}");
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let text = check_private(dir.path()).unwrap_err().to_string();
        assert!(text.contains("chmod 700"), "{text}");
    }
}
