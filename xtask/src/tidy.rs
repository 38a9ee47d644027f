//! House checks that run with the test suite: file headers and fresh generated code.

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
