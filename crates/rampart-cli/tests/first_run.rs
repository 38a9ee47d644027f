//! A first run as a new user meets it: the binary prints a `Try:` line, and that line, pasted into
//! a shell, works with the AWS CLI — over plain HTTP, and over TLS with the self-signed
//! certificate it generated.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use std::path::Path;

use rampart_testkit::ServerProcess;

/// Runs the server's `Try:` line in bash, in `dir`, with no AWS settings of the caller's.
fn paste(dir: &Path, try_line: &str) -> (bool, String, String) {
    let command = try_line.strip_prefix("Try: ").unwrap_or_else(|| panic!("not a Try line: {try_line}"));
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c").arg(command).current_dir(dir).env("HOME", dir).env("AWS_CONFIG_FILE", "/dev/null");
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") && k != "AWS_CONFIG_FILE" {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_printed_try_line_works_as_pasted_over_http_and_self_signed_tls() {
    let bin = Path::new(env!("CARGO_BIN_EXE_rampart"));
    for tls in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let args: &[&str] = if tls { &["--tls-self-signed"] } else { &[] };
        let server = ServerProcess::start(bin, dir.path(), args, &[]).unwrap();
        assert_eq!(server.try_line.contains("AWS_CA_BUNDLE="), tls, "{}", server.try_line);
        assert!(server.try_line.contains(if tls { "https://" } else { "http://" }), "{}", server.try_line);
        let (ok, stdout, stderr) = paste(dir.path(), &server.try_line);
        assert!(ok, "tls={tls}: {stderr}");
        assert!(stdout.contains(":root\""), "{stdout}");
    }
}
