//! The README runs as written: every `sh` block, in order, in one bash session, against a fresh
//! server started from the real binary, with the AWS CLI — so the README cannot drift.
//!
//! The session stands where a new user stands: in a directory holding the server's
//! `rampart-data`, with `rampart` on the PATH (as `cargo install --path crates/rampart-cli` puts
//! it), a HOME of its own (so nothing can reach a real `~/.aws`) and no AWS variables. The one
//! change to the text: the server listens on a free port, which replaces `127.0.0.1:4566`.
//!
//! A block is marked by an HTML comment on the line before it:
//! - `<!-- readme-test: skip: WHY -->` is not run (the two commands themselves, benchmarks);
//! - `<!-- readme-test: fails -->` must fail, and its stderr must hold every line of the `text`
//!   block that follows it (the error the README shows).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use std::path::Path;
use std::process::Command;

/// A fenced block of the README and the marker before it.
#[derive(Debug)]
struct Block {
    lang: String,
    text: String,
    marker: Option<String>,
    line: usize,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    let mut lines = readme.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        if let Some(m) = line.trim().strip_prefix("<!-- readme-test:").and_then(|m| m.strip_suffix("-->")) {
            marker = Some(m.trim().to_owned());
        } else if let Some(lang) = line.strip_prefix("```") {
            let mut text = String::new();
            for (_, l) in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                text.push_str(l);
                text.push('\n');
            }
            out.push(Block { lang: lang.trim().to_owned(), text, marker: marker.take(), line: n + 1 });
        } else if !line.trim().is_empty() {
            // A marker belongs to the very next block, with only blank lines between.
            marker = None;
        }
    }
    out
}

/// Whether `output` holds what the README shows: its words in order, white space folded (the
/// README wraps long messages), `…` standing for any text (an account id).
fn shows(output: &str, shown: &str) -> bool {
    let fold = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let output = fold(output);
    let mut rest = output.as_str();
    for part in fold(shown).split('…').map(str::trim).filter(|p| !p.is_empty()) {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[test]
fn shown_output_matches_with_gaps_and_folded_lines() {
    let out = "\nAn error occurred (AccessDenied) when calling X: User: arn:aws:iam::1234:user/ana is\nnot allowed\n";
    assert!(shows(out, "User: arn:aws:iam::…:user/ana\nis not allowed"));
    assert!(!shows(out, "User: arn:aws:iam::…:user/bob"));
    assert!(!shows(out, "not allowed … User:"), "parts must come in order");
}

#[test]
fn every_readme_example_runs_as_written() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let blocks = blocks(&readme);
    let scratch = tempfile::tempdir().unwrap();
    let (checkout, home, bin) =
        (scratch.path().join("checkout"), scratch.path().join("home"), scratch.path().join("bin"));
    for d in [&checkout, &home, &bin] {
        std::fs::create_dir(d).unwrap();
    }
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rampart"), bin.join("rampart")).unwrap();
    let bin_path = Path::new(env!("CARGO_BIN_EXE_rampart"));
    // The trail example waits for a digest: a short period here (the README says how to ask).
    let env = [("RAMPART_TRAIL_DELIVERY_SECS", "1"), ("RAMPART_TRAIL_DIGEST_SECS", "2")];
    let server = rampart_testkit::ServerProcess::start(bin_path, &checkout, &[], &env).unwrap();
    // The first start shows the root password once, and the line to paste.
    assert!(server.banner.contains("password, shown once: "), "{}", server.banner);
    let addr = server.addr.clone();

    // One script, as one pasted session: a failing command stops it, and names its block.
    let mut script = String::from("set -eo pipefail\n");
    let mut expected_failures = Vec::new();
    let mut skipped = Vec::new();
    let mut ran = 0;
    for (i, b) in blocks.iter().enumerate() {
        if b.lang != "sh" {
            continue;
        }
        let text = b.text.replace("127.0.0.1:4566", &addr);
        match b.marker.as_deref() {
            Some(m) if m.starts_with("skip:") => {
                skipped.push(b.line);
                continue;
            }
            Some("fails") => {
                let shown = blocks.get(i + 1).filter(|n| n.lang == "text").expect("a `text` block after a failing one");
                let err = scratch.path().join(format!("fails-{}.err", b.line));
                script.push_str(&format!(
                    "echo 'readme-test: block at line {line}' >&2\nif {{\n{text}\n}} 2> '{err}'; then echo 'the block at line {line} should fail' >&2; exit 3; fi\n",
                    line = b.line,
                    err = err.display(),
                ));
                expected_failures.push((b.line, err, shown.text.clone()));
            }
            Some(other) => panic!("unknown readme-test marker `{other}` at line {}", b.line),
            None => {
                script.push_str(&format!("echo 'readme-test: block at line {}' >&2\n{text}\n", b.line));
            }
        }
        ran += 1;
    }
    assert!(ran >= 4, "the README's examples were not found");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(&script).current_dir(&checkout).env("HOME", &home).env("PATH", path);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("RAMPART_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().expect("bash");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the README's examples failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    // What the examples say they show: the caller, the offline decision, the validated trail.
    for shown in ["\"Arn\": \"arn:aws:iam::", "policy.json: valid", "allowed", "digest files valid", "log files valid"]
    {
        assert!(stdout.contains(shown), "the examples did not print `{shown}`:\n{stdout}");
    }
    for (line, err, shown) in expected_failures {
        let got = std::fs::read_to_string(&err).unwrap();
        assert!(shows(&got, &shown), "the block at line {line} printed\n{got}\nnot\n{shown}");
    }
    // Nothing was written into the user's home or the checkout but the server's own data.
    assert!(!home.join(".aws").exists(), "the README wrote into ~/.aws");
    let left: Vec<String> =
        std::fs::read_dir(&checkout).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(left, ["rampart-data"], "the README wrote into the checkout");
    // Only the blocks that start servers (the two commands, dev mode, nodes on PostgreSQL), need
    // a PostgreSQL server (store copy; both are run by tests of their own) or benchmark are not
    // run here.
    assert!(skipped.len() <= 5, "skipped blocks at lines {skipped:?}");
}
