//! The README's clients for programs, `examples/client.py` (requests) and
//! `examples/client.sh` (curl), run against a live embedded server: each uploads a photo,
//! waits on the job's events and downloads a result that must decode at twice the size.
//! The Python one runs on the project's `.venv`, where scripts/test.sh installs
//! `examples/requirements.txt`.

mod common;

use common::{Stack, StackOptions, testdata};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PHOTO: &str = "images/astronaut.png";
/// A client must be done well within this (the job itself takes milliseconds).
const CLIENT_DEADLINE: Duration = Duration::from_secs(60);

fn repository(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Runs a client on a blocking thread (it talks to the server on this runtime) and
/// returns its output; panics with its stderr when it fails.
async fn run_client(mut command: Command) -> String {
    let what = format!("{command:?}");
    let output = tokio::time::timeout(
        CLIENT_DEADLINE,
        tokio::task::spawn_blocking(move || command.output()),
    )
    .await
    .unwrap_or_else(|_| panic!("{what} still running after {CLIENT_DEADLINE:?}"))
    .expect("client thread")
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// The downloaded result decodes, at twice the photo's size.
fn assert_restored(path: &Path) {
    let photo = image::open(testdata(PHOTO)).expect("the photo decodes");
    let result = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        (result.width(), result.height()),
        (photo.width() * 2, photo.height() * 2),
        "{}",
        path.display()
    );
}

#[tokio::test]
async fn the_python_client_uploads_waits_and_downloads() {
    let python = repository(".venv/bin/python");
    let has_requests = Command::new(&python)
        .args(["-c", "import requests"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_requests,
        "{} cannot import requests: run scripts/test.sh, or `.venv/bin/python -m pip install -r examples/requirements.txt`",
        python.display()
    );
    let stack = Stack::start(StackOptions::new(common::Backend::Embedded)).await;
    let out = tempfile::tempdir().expect("temp dir");
    let result = out.path().join("restored.png");
    let mut command = Command::new(python);
    command
        .arg(repository("examples/client.py"))
        .arg(&stack.base)
        .arg(testdata(PHOTO))
        .arg(&result)
        .arg("2");
    let printed = run_client(command).await;
    assert!(printed.contains("1024x1024"), "{printed}");
    assert_restored(&result);
    stack.shutdown().await;
}

#[tokio::test]
async fn the_shell_client_uploads_waits_and_downloads() {
    let stack = Stack::start(StackOptions::new(common::Backend::Embedded)).await;
    let out = tempfile::tempdir().expect("temp dir");
    let result = out.path().join("restored.png");
    let mut command = Command::new("bash");
    command
        .arg(repository("examples/client.sh"))
        .arg(&stack.base)
        .arg(testdata(PHOTO))
        .arg(&result)
        .arg("2");
    run_client(command).await;
    assert_restored(&result);
    stack.shutdown().await;
}

#[test]
fn the_readme_shows_the_clients_as_they_are() {
    let readme = std::fs::read_to_string(repository("README.md")).expect("README.md");
    for file in ["examples/client.py", "examples/client.sh"] {
        let text = std::fs::read_to_string(repository(file)).expect(file);
        assert!(
            readme.contains(text.trim_end()),
            "README.md does not show {file} as it is: copy the file into its code block"
        );
    }
}
