//! The local-directory object store of embedded mode. Writes are atomic (temp file +
//! rename), so a reader never sees half an object.

use crate::ports::blob::MAX_PAGE;
use crate::ports::{Blob, BlobError, BlobKey, BlobStore, ListedObject, ObjectPage};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// How often a write is retried when a concurrent delete removed its (empty) folder.
const WRITE_TRIES: usize = 3;

/// The embedded object store: each object is a file at `<root>/<name>` (names use `/`),
/// plus a `.type` file beside it holding its content type. Object names never contain a
/// dot, so neither the `.type` files nor temporary files are ever listed as objects.
#[derive(Debug, Clone)]
pub struct DirBlobStore {
    root: PathBuf,
}

fn io_error(context: &str, path: &Path, error: std::io::Error) -> BlobError {
    BlobError::Unavailable(format!("{context} {}: {error}", path.display()))
}

impl DirBlobStore {
    /// Uses (and creates) `root`.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        tokio::fs::create_dir_all(&root)
            .await
            .map_err(|e| io_error("cannot create", &root, e))?;
        Ok(Self { root })
    }

    fn object_path(&self, key: &BlobKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    fn type_path(object: &Path) -> PathBuf {
        object.with_extension("type")
    }

    async fn remove_if_present(path: &Path) -> Result<(), BlobError> {
        match tokio::fs::remove_file(path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("cannot delete", path, e)),
        }
    }

    /// Creates the folder, then writes the object through a temporary file.
    async fn write(&self, path: &Path, body: &Bytes, content_type: &str) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(&self.root);
        tokio::fs::create_dir_all(dir).await?;
        let temp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&temp, body).await?;
        tokio::fs::write(Self::type_path(path), content_type).await?;
        tokio::fs::rename(&temp, path).await
    }

    /// Removes the empty folders above a deleted object (a job's folder, then its expiry
    /// second's), so the tree does not fill with empty folders. A folder still in use is
    /// not empty and stays.
    async fn remove_empty_folders(&self, object: &Path) {
        let mut dir = object.parent();
        while let Some(current) = dir {
            if current == self.root || tokio::fs::remove_dir(current).await.is_err() {
                return;
            }
            dir = current.parent();
        }
    }
}

/// Every object under `dir` (whose name starts `rel`) with a name starting `prefix`.
fn walk(dir: &Path, rel: &str, prefix: &str, out: &mut Vec<ListedObject>) -> Result<(), BlobError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("cannot list", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_error("cannot list", dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let full = format!("{rel}{name}");
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            let folder = format!("{full}/");
            if folder.starts_with(prefix) || prefix.starts_with(&folder) {
                walk(&path, &folder, prefix, out)?;
            }
        } else if !name.contains('.') && full.starts_with(prefix) {
            // A file removed since the folder was read is simply not listed.
            let Ok(modified) = entry.metadata().and_then(|meta| meta.modified()) else {
                continue;
            };
            out.push(ListedObject {
                key: BlobKey::listed(full),
                last_modified: DateTime::<Utc>::from(modified),
            });
        }
    }
    Ok(())
}

fn list_tree(
    root: &Path,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
) -> Result<ObjectPage, BlobError> {
    // Walk only the deepest folder that holds every name with this prefix.
    let base = prefix.rfind('/').map_or("", |end| &prefix[..=end]);
    let mut objects = Vec::new();
    walk(&root.join(base), base, prefix, &mut objects)?;
    if let Some(after) = start_after {
        objects.retain(|object| object.key.as_str() > after);
    }
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    let limit = limit.clamp(1, MAX_PAGE);
    let truncated = objects.len() > limit;
    objects.truncate(limit);
    Ok(ObjectPage { objects, truncated })
}

#[async_trait]
impl BlobStore for DirBlobStore {
    async fn put(&self, key: &BlobKey, body: Bytes, content_type: &str) -> Result<(), BlobError> {
        let path = self.object_path(key);
        let mut tries = 0;
        loop {
            tries += 1;
            match self.write(&path, &body, content_type).await {
                Ok(()) => return Ok(()),
                // A delete of the folder's last object removed the folder under us.
                Err(e) if e.kind() == ErrorKind::NotFound && tries < WRITE_TRIES => {}
                Err(e) => return Err(io_error("cannot write", &path, e)),
            }
        }
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Blob>, BlobError> {
        let path = self.object_path(key);
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("cannot open", &path, e)),
        };
        let length = file
            .metadata()
            .await
            .map_err(|e| io_error("cannot stat", &path, e))?
            .len();
        let content_type = tokio::fs::read_to_string(Self::type_path(&path))
            .await
            .unwrap_or_else(|_| "application/octet-stream".to_string());
        let error_path = path.clone();
        let body = tokio_util::io::ReaderStream::new(file)
            .map_err(move |e| io_error("cannot read", &error_path, e))
            .boxed();
        Ok(Some(Blob {
            content_type,
            length,
            body,
        }))
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        let path = self.object_path(key);
        Self::remove_if_present(&path).await?;
        Self::remove_if_present(&Self::type_path(&path)).await?;
        self.remove_empty_folders(&path).await;
        Ok(())
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        let path = self.object_path(key);
        tokio::fs::try_exists(&path)
            .await
            .map_err(|e| io_error("cannot stat", &path, e))
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, BlobError> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        let start_after = start_after.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            list_tree(&root, &prefix, start_after.as_deref(), limit)
        })
        .await
        .map_err(|e| BlobError::Unavailable(format!("listing {}: {e}", self.root.display())))?
    }

    async fn check(&self) -> Result<(), BlobError> {
        let meta = tokio::fs::metadata(&self.root)
            .await
            .map_err(|e| io_error("cannot stat", &self.root, e))?;
        if meta.is_dir() {
            Ok(())
        } else {
            Err(BlobError::Unavailable(format!(
                "{} is not a directory",
                self.root.display()
            )))
        }
    }
}
