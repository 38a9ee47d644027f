//! TLS (encryption in transit): an operator's certificate, or a self-signed one generated into
//! the data directory. rustls on aws-lc-rs; HTTP/2 and HTTP/1.1 by ALPN.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::data_dir::{self, check_private, write_private};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate `{0}`: {1}")]
    Pem(PathBuf, rustls::pki_types::pem::Error),
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS: cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error(transparent)]
    DataDir(#[from] data_dir::DataDirError),
}

/// Writes a self-signed certificate for `localhost` and `127.0.0.1` unless one exists.
fn self_signed(dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let tls_dir = dir.join("tls");
    let (cert, key) = (tls_dir.join("cert.pem"), tls_dir.join("key.pem"));
    if !cert.exists() || !key.exists() {
        std::fs::create_dir_all(&tls_dir).map_err(|source| data_dir::DataDirError::Io {
            op: "create the TLS directory",
            path: tls_dir.clone(),
            source,
        })?;
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        let _ = std::fs::remove_file(&cert);
        let _ = std::fs::remove_file(&key);
        write_private(&key, generated.signing_key.serialize_pem().as_bytes())?;
        write_private(&cert, generated.cert.pem().as_bytes())?;
    }
    Ok((cert, key))
}

/// The TLS acceptor the configuration asks for, if any.
pub fn acceptor(config: &Config) -> Result<Option<TlsAcceptor>, TlsError> {
    let (cert_path, key_path) = match (&config.tls_cert, &config.tls_key, config.tls_self_signed) {
        (Some(c), Some(k), _) => (c.clone(), k.clone()),
        (_, _, true) => self_signed(&config.data_dir)?,
        _ => return Ok(None),
    };
    check_private(&key_path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| TlsError::Pem(cert_path.clone(), e))?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| TlsError::Pem(key_path.clone(), e))?;
    let mut server =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}
