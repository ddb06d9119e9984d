//! The repository stands on its own: no tracked file may point into a folder `shared`
//! beside the checkout. Such a folder may exist on a development machine, but a clone
//! does not have it, so a test, script or document that reads it breaks for everyone
//! else. (The workspace's own `shared/` crate is inside the checkout and is fine.)

use std::path::Path;
use std::process::Command;

/// Ways of writing "the folder `shared` one level up": as a path, and as the separate
/// arguments of a path join. Assembled at run time so this file does not match itself.
fn parent_shared_spellings() -> Vec<String> {
    let up = "..";
    let name = "shared";
    vec![
        format!("{up}/{name}"),
        format!("{up}\\{name}"),
        format!("'{up}', '{name}'"),
        format!("\"{up}\", \"{name}\""),
    ]
}

fn mentions_parent_shared(line: &str, spellings: &[String]) -> bool {
    spellings.iter().any(|s| line.contains(s.as_str()))
}

/// Every path `git ls-files` lists, relative to the repository root.
fn tracked_files(root: &Path) -> Vec<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z"])
        .output()
        .unwrap_or_else(|e| panic!("running git ls-files: {e}"));
    assert!(
        out.status.success(),
        "git ls-files failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .split(|b| *b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect()
}

/// The text of a file, or `None` for a binary (a NUL byte or invalid UTF-8: images,
/// models), which cannot hold a path anyone reads.
fn text_of(bytes: &[u8]) -> Option<&str> {
    if bytes.contains(&0) {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

#[test]
fn no_tracked_file_refers_to_a_shared_folder_beside_the_checkout() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spellings = parent_shared_spellings();
    let files = tracked_files(root);
    // A listing this short means git looked at the wrong place, not a clean repository.
    assert!(
        files.len() > 100,
        "git ls-files listed only {} files",
        files.len()
    );
    let mut found = Vec::new();
    for name in &files {
        let bytes = match std::fs::read(root.join(name)) {
            Ok(bytes) => bytes,
            // Deleted in the working tree but not yet in a commit: nothing to read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{name}: {e}"),
        };
        let Some(text) = text_of(&bytes) else {
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            if mentions_parent_shared(line, &spellings) {
                found.push(format!("{name}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} line(s) refer to the folder `shared` beside the checkout, which a clone does not have:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_check_recognises_each_spelling_and_spares_the_workspace_crate() {
    let spellings = parent_shared_spellings();
    let up = "..";
    for line in [
        format!("TESTDATA=\"$ROOT/{up}/shared/testdata\""),
        format!(".join(\"{up}/{up}/shared/testdata\")"),
        format!("path.resolve(REPO, '{up}', 'shared', 'testdata')"),
        format!("os.path.join(ROOT, \"{up}\", \"shared\")"),
        format!("copy {up}\\shared\\schemas"),
    ] {
        assert!(mentions_parent_shared(&line, &spellings), "{line}");
    }
    for line in [
        "path = os.path.join(ROOT, \"shared/src/metrics.rs\")",
        "members = [\"shared\", \"api\", \"worker\", \"benches\"]",
        "see ./shared/README.md",
    ] {
        assert!(!mentions_parent_shared(line, &spellings), "{line}");
    }
    assert_eq!(text_of(b"PNG\0\x01"), None);
    assert_eq!(text_of(&[0xff, 0xfe, b'a']), None);
    assert_eq!(text_of(b"plain"), Some("plain"));
}
