//! House checks that run with the test suite: file headers, fresh generated code and the
//! direction of dependencies between Rampart's crates.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if p.is_dir() {
                if !matches!(name, "target" | ".git" | "corpus" | "artifacts") {
                    rust_files(&p, out);
                }
            } else if name.ends_with(".rs") {
                out.push(p);
            }
        }
    }

    /// Which of Rampart's crates each crate may depend on (normal dependencies). Dependencies
    /// point down; a service crate stands on `rampart-core` and uses another service only where
    /// listed (CloudTrail delivers log files through S3), never both ways; only the wiring crate
    /// and the binary see every service. A new crate must be added here.
    const ALLOWED: &[(&str, &[&str])] = &[
        ("rampart-shapes", &[]),
        ("rampart-sigv4", &[]),
        ("rampart-policy", &[]),
        ("rampart-store", &[]),
        ("rampart-pgtest", &[]),
        ("rampart-wire", &["rampart-shapes"]),
        ("rampart-core", &["rampart-store"]),
        ("rampart-iam", &["rampart-core", "rampart-store", "rampart-shapes", "rampart-policy"]),
        (
            "rampart-s3",
            &["rampart-core", "rampart-store", "rampart-shapes", "rampart-policy", "rampart-wire", "rampart-kms"],
        ),
        ("rampart-kms", &["rampart-core", "rampart-store", "rampart-shapes", "rampart-policy"]),
        ("rampart-cloudtrail", &["rampart-core", "rampart-store", "rampart-shapes", "rampart-s3"]),
        (
            "rampart-organizations",
            &["rampart-core", "rampart-store", "rampart-shapes", "rampart-policy", "rampart-iam"],
        ),
        ("rampart-elb", &["rampart-core", "rampart-store", "rampart-shapes", "rampart-wire", "rampart-policy"]),
        // A web ACL protects a load balancer: WAF looks up the one an association names, and
        // the bucket a logging configuration names.
        (
            "rampart-waf",
            &["rampart-core", "rampart-store", "rampart-shapes", "rampart-wire", "rampart-elb", "rampart-s3"],
        ),
        // Shield protects load balancers, and mitigates in their web ACLs.
        (
            "rampart-shield",
            &["rampart-core", "rampart-store", "rampart-shapes", "rampart-wire", "rampart-elb", "rampart-waf"],
        ),
        // GuardDuty reads the event log CloudTrail keeps, and its lists from S3 objects; its
        // delegated administrator is registered with Organizations, whose accounts it enables.
        (
            "rampart-guardduty",
            &[
                "rampart-core",
                "rampart-store",
                "rampart-shapes",
                "rampart-wire",
                "rampart-cloudtrail",
                "rampart-s3",
                "rampart-organizations",
            ],
        ),
        (
            "rampart-server",
            &[
                "rampart-core",
                "rampart-store",
                "rampart-shapes",
                "rampart-wire",
                "rampart-sigv4",
                "rampart-iam",
                "rampart-s3",
                "rampart-cloudtrail",
                "rampart-organizations",
                "rampart-kms",
                "rampart-elb",
                "rampart-waf",
                "rampart-shield",
                "rampart-guardduty",
            ],
        ),
        (
            "rampart-cli",
            &["rampart-server", "rampart-policy", "rampart-store", "rampart-iam", "rampart-s3", "rampart-cloudtrail"],
        ),
        ("rampart-testkit", &["rampart-server", "rampart-pgtest", "rampart-store"]),
    ];

    /// The `rampart-*` crates named in a manifest's `[dependencies]` table.
    fn rampart_dependencies(manifest: &str) -> Vec<String> {
        let mut in_deps = false;
        let mut out = Vec::new();
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                in_deps = line == "[dependencies]";
            } else if in_deps && line.starts_with("rampart-") {
                let name: String = line.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                out.push(name);
            }
        }
        out
    }

    #[test]
    fn crate_dependencies_point_down() {
        let mut checked = 0;
        let mut wrong = Vec::new();
        for entry in std::fs::read_dir(root().join("crates")).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(manifest) = std::fs::read_to_string(entry.path().join("Cargo.toml")) else { continue };
            let Some((_, allowed)) = ALLOWED.iter().find(|(c, _)| *c == name) else {
                wrong.push(format!("{name} is not in tidy.rs's ALLOWED table"));
                continue;
            };
            checked += 1;
            for dep in rampart_dependencies(&manifest) {
                if !allowed.contains(&dep.as_str()) {
                    wrong.push(format!("{name} depends on {dep}"));
                }
            }
        }
        assert!(checked >= 12, "checked only {checked} crates");
        assert!(wrong.is_empty(), "dependencies against the layering: {wrong:#?}");
    }

    #[test]
    fn every_rust_file_opens_with_a_module_doc_line() {
        let mut files = Vec::new();
        for d in ["crates", "xtask", "fuzz"] {
            rust_files(&root().join(d), &mut files);
        }
        assert!(files.len() > 20, "found only {} files", files.len());
        let missing: Vec<String> = files
            .iter()
            .filter(|f| !std::fs::read_to_string(f).unwrap_or_default().starts_with("//!"))
            .map(|f| f.display().to_string())
            .collect();
        assert!(missing.is_empty(), "files without a `//!` first line: {missing:#?}");
    }

    #[test]
    fn generated_shapes_match_the_pinned_botocore_models() {
        // Needs botocore (pinned in xtask/botocore-version) for python3; .ci/run installs it.
        if let Err(e) = crate::codegen::run(None, true) {
            panic!("{e:#}");
        }
    }
}
