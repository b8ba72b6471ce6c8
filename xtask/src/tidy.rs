//! Repository-wide rules checked as plain `#[test]`s (rust-analyzer's `tidy.rs`):
//! they run with every `cargo test` and need no tool of their own.

/// How a path to the reference folder beside a checkout is spelled. Built from
/// two pieces so this file does not name it itself.
const OUTSIDE: &str = concat!("..", "/shared");

/// The tracked files, other than Markdown, whose text names [`OUTSIDE`].
///
/// The repository stands alone: a clone with nothing beside it builds, runs and
/// passes its tests, so no build file, test, bench, script or demo may read
/// from a folder next to the checkout. Markdown may mention it (notes on where
/// vendored data came from).
fn reaching_outside<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<&'a str> {
    files
        .into_iter()
        .filter(|(path, _)| !path.ends_with(".md"))
        .filter(|(_, text)| text.windows(OUTSIDE.len()).any(|w| w == OUTSIDE.as_bytes()))
        .map(|(path, _)| path)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Every file `git ls-files` lists, with its bytes.
    fn tracked(root: &Path) -> Vec<(String, Vec<u8>)> {
        let out = std::process::Command::new("git")
            .args(["ls-files", "-z"])
            .current_dir(root)
            .output()
            .expect("git ls-files");
        assert!(out.status.success(), "git ls-files failed");
        out.stdout
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            // A file deleted in the work tree but still tracked has no bytes to check.
            .filter_map(|p| std::fs::read(root.join(&p)).ok().map(|b| (p, b)))
            .collect()
    }

    #[test]
    fn no_tracked_file_reads_from_beside_the_checkout() {
        let files = tracked(&crate::cmd::root());
        assert!(
            files.len() > 50,
            "git ls-files found only {} files",
            files.len()
        );
        let bad = reaching_outside(files.iter().map(|(p, b)| (p.as_str(), b.as_slice())));
        assert!(
            bad.is_empty(),
            "these tracked files name {OUTSIDE}; copy what they need into the repository \
             (tests/fixtures/) instead: {bad:?}"
        );
    }

    #[test]
    fn a_planted_reference_is_found() {
        let planted = format!("let p = root.join(\"../{OUTSIDE}/fixtures/x.prom\");");
        let files = [
            ("tests/planted.rs", planted.as_bytes()),
            ("notes.md", planted.as_bytes()),
            (
                "tests/clean.rs",
                b"let p = root.join(\"tests/fixtures\");".as_slice(),
            ),
            ("Cargo.lock", b"name = \"phf_shared\"".as_slice()),
        ];
        assert_eq!(reaching_outside(files), ["tests/planted.rs"]);
    }
}
