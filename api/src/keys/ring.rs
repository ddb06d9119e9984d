//! The API keys file and the keys it lists.
//!
//! One key a line: `name sha256hex jobs_per_minute max_concurrent`, fields separated by
//! spaces or tabs; `#` starts a comment. Only the SHA-256 of each key is in the file, so
//! the file (a Kubernetes Secret, a config map) never holds a usable key.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A key named by its owner. Its `Debug` shows the name and limits, never the digest.
pub struct ApiKey {
    /// What the logs, the metrics and the job records call the key.
    pub name: String,
    digest: [u8; 32],
    /// Jobs the key may submit in a minute (a token bucket of this size).
    pub jobs_per_minute: u32,
    /// Jobs of the key that may be queued or processing at once.
    pub max_concurrent: u32,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("digest", &"<redacted>")
            .field("jobs_per_minute", &self.jobs_per_minute)
            .field("max_concurrent", &self.max_concurrent)
            .finish()
    }
}

/// Why a keys file was not taken. The service keeps the keys it had.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("api-keys-file-unreadable: cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("api-keys-file-invalid: line {line}: {reason}")]
    Invalid { line: usize, reason: String },
    #[error("api-keys-file-empty: the file lists no key (delete the flag to run without keys)")]
    Empty,
}

/// The keys in force.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: Vec<Arc<ApiKey>>,
}

/// Names go into metric labels and job records: short and plain.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(digest)
}

fn parse_line(fields: &[&str]) -> Result<ApiKey, String> {
    let [name, hex, per_minute, max_concurrent] = fields else {
        return Err(format!(
            "expected `name sha256hex jobs_per_minute max_concurrent`, found {} fields",
            fields.len()
        ));
    };
    if !valid_name(name) {
        return Err(format!(
            "name `{name}`: 1-64 letters, digits, `-`, `_` or `.`"
        ));
    }
    let digest = parse_digest(hex)
        .ok_or_else(|| "the second field must be 64 hex digits (the key's SHA-256)".to_string())?;
    let number = |field: &str, what: &str| {
        field
            .parse::<u32>()
            .map_err(|_| format!("{what} `{field}` is not a whole number"))
    };
    Ok(ApiKey {
        name: name.to_string(),
        digest,
        jobs_per_minute: number(per_minute, "jobs_per_minute")?,
        max_concurrent: number(max_concurrent, "max_concurrent")?,
    })
}

/// Compares two digests in time independent of where they differ.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

impl KeyRing {
    /// Parses a keys file's text. Names and digests must be unique.
    pub fn parse(text: &str) -> Result<Self, KeyFileError> {
        let mut keys: Vec<Arc<ApiKey>> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or_default();
            let fields: Vec<&str> = content.split_whitespace().collect();
            if fields.is_empty() {
                continue;
            }
            let key =
                parse_line(&fields).map_err(|reason| KeyFileError::Invalid { line, reason })?;
            if keys.iter().any(|k| k.name == key.name) {
                let reason = format!("the name `{}` is used twice", key.name);
                return Err(KeyFileError::Invalid { line, reason });
            }
            if keys.iter().any(|k| same_digest(&k.digest, &key.digest)) {
                let reason = "this key's hash is listed twice".to_string();
                return Err(KeyFileError::Invalid { line, reason });
            }
            keys.push(Arc::new(key));
        }
        if keys.is_empty() {
            return Err(KeyFileError::Empty);
        }
        Ok(Self { keys })
    }

    /// Reads and parses the keys file at `path`.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text)
    }

    /// The key whose digest is the SHA-256 of `presented`. Every listed digest is compared,
    /// each in constant time, so timing says nothing about which bytes matched.
    pub fn identify(&self, presented: &str) -> Option<Arc<ApiKey>> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for key in &self.keys {
            if same_digest(&key.digest, &digest) {
                found = Some(key.clone());
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(key: &str) -> String {
        Sha256::digest(key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn a_listed_key_is_identified_by_its_hash_only() {
        let text = format!(
            "# team keys\n\nalice {} 10 2  # the first\nbob\t{}\t5\t1\n",
            hex("alice-secret"),
            hex("bob-secret")
        );
        let ring = KeyRing::parse(&text).expect("parses");
        assert_eq!(ring.len(), 2);
        let alice = ring.identify("alice-secret").expect("alice");
        assert_eq!(
            (
                alice.name.as_str(),
                alice.jobs_per_minute,
                alice.max_concurrent
            ),
            ("alice", 10, 2)
        );
        assert_eq!(
            ring.identify("bob-secret")
                .map(|k| k.name.clone())
                .as_deref(),
            Some("bob")
        );
        assert!(ring.identify("alice-secret ").is_none());
        assert!(
            ring.identify(&hex("alice-secret")).is_none(),
            "the hash is not the key"
        );
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        let digest = hex("k");
        for (text, line) in [
            (format!("a {digest} 1\n"), 1),
            (format!("a {digest} 1 1\nb nothex 1 1\n"), 2),
            (format!("a {digest} many 1\n"), 1),
            (format!("bad/name {digest} 1 1\n"), 1),
            (format!("a {digest} 1 1\na {} 1 1\n", hex("other")), 2),
            (format!("a {digest} 1 1\nb {digest} 1 1\n"), 2),
        ] {
            match KeyRing::parse(&text) {
                Err(KeyFileError::Invalid { line: at, .. }) => assert_eq!(at, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            KeyRing::parse("# none\n"),
            Err(KeyFileError::Empty)
        ));
    }

    #[test]
    fn debug_never_shows_the_digest() {
        let ring = KeyRing::parse(&format!("alice {} 1 1", hex("alice-secret"))).expect("parses");
        let shown = format!("{ring:?}");
        assert!(
            shown.contains("alice") && shown.contains("<redacted>"),
            "{shown}"
        );
        assert!(!shown.contains(&hex("alice-secret")[..16]), "{shown}");
        assert!(!shown.contains("alice-secret"), "{shown}");
    }
}
