//! The local-directory object store of embedded mode. Writes are atomic (temp file +
//! rename), so a reader never sees half an object.

use crate::ports::{Blob, BlobError, BlobKey, BlobStore};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The embedded object store: `<root>/jobs/<id>/{input,result}` plus a `.type` file
/// holding each object's content type.
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

    fn object_path(&self, key: BlobKey) -> PathBuf {
        self.root.join(key.path())
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
}

#[async_trait]
impl BlobStore for DirBlobStore {
    async fn put(&self, key: BlobKey, body: Bytes, content_type: &str) -> Result<(), BlobError> {
        let path = self.object_path(key);
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_error("cannot create", &dir, e))?;
        let temp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&temp, &body)
            .await
            .map_err(|e| io_error("cannot write", &temp, e))?;
        tokio::fs::write(Self::type_path(&path), content_type)
            .await
            .map_err(|e| io_error("cannot write", &path, e))?;
        tokio::fs::rename(&temp, &path)
            .await
            .map_err(|e| io_error("cannot rename", &path, e))
    }

    async fn get(&self, key: BlobKey) -> Result<Option<Blob>, BlobError> {
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

    async fn delete(&self, key: BlobKey) -> Result<(), BlobError> {
        let path = self.object_path(key);
        Self::remove_if_present(&path).await?;
        Self::remove_if_present(&Self::type_path(&path)).await?;
        // The job's directory goes once it is empty; a failure here only means it is not.
        if let Some(dir) = path.parent() {
            let _ = tokio::fs::remove_dir(dir).await;
        }
        Ok(())
    }

    async fn exists(&self, key: BlobKey) -> Result<bool, BlobError> {
        tokio::fs::try_exists(self.object_path(key))
            .await
            .map_err(|e| io_error("cannot stat", &self.object_path(key), e))
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
