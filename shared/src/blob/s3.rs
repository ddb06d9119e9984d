//! The S3 object store (aws-sdk-s3), for AWS S3 and S3-compatible servers (MinIO, Garage,
//! Ceph RGW). Only standard calls are used: PutObject with an in-memory body, GetObject,
//! HeadObject, DeleteObject (one per object: DeleteObjects needs a checksum header some
//! servers refuse), ListObjectsV2 (with `start-after`), HeadBucket and CreateBucket.

use crate::config::BlobArgs;
use crate::ports::blob::MAX_PAGE;
use crate::ports::{Blob, BlobError, BlobKey, BlobStore, ListedObject, ObjectPage};
use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use std::time::Duration;

/// Attempts per request with the SDK's standard retry (exponential backoff with jitter,
/// retrying throttling, 5xx and transport errors).
const MAX_ATTEMPTS: u32 = 3;

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        // Between bytes of a response: a stalled server fails the attempt.
        .read_timeout(Duration::from_secs(30))
        // Up to the response headers (a GET body streams afterwards, unbounded in time):
        // long enough to upload a 20 MiB image over a slow link.
        .operation_attempt_timeout(Duration::from_secs(60))
        .operation_timeout(Duration::from_secs(150))
        .build()
}

/// Where objects go: `s3://bucket[/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing slashes; empty for the bucket's root.
    pub prefix: String,
}

impl S3Location {
    pub fn parse(url: &str) -> Result<Self, BlobError> {
        let invalid = |why: &str| {
            BlobError::Unavailable(format!(
                "invalid S3 URL {url:?}: {why} (expected s3://bucket[/prefix])"
            ))
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| invalid("not an s3:// URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid("no bucket"));
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    /// The bucket key of `name` (a name relative to the prefix).
    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// The name relative to the prefix of a bucket key under it.
    fn name<'k>(&self, key: &'k str) -> Option<&'k str> {
        if self.prefix.is_empty() {
            Some(key)
        } else {
            key.strip_prefix(self.prefix.as_str())?.strip_prefix('/')
        }
    }
}

/// The S3 adapter of [`BlobStore`]. Cheap to clone.
#[derive(Clone)]
pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    location: S3Location,
}

/// The HTTP status of a failed call, when the server answered.
fn status<E>(error: &SdkError<E, HttpResponse>) -> Option<u16> {
    error
        .raw_response()
        .map(|response| response.status().as_u16())
}

fn unavailable<E: std::error::Error + 'static>(
    context: String,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> BlobError {
    move |e| BlobError::Unavailable(format!("{context}: {}", DisplayErrorContext(&e)))
}

impl S3BlobStore {
    /// Builds the client from `args` (endpoint, region, path style, static keys or the
    /// default credential chain) and checks the bucket, creating it first when
    /// `--s3-create-bucket` is set.
    pub async fn connect(args: &BlobArgs) -> Result<Self, BlobError> {
        let url = args
            .blob_url
            .as_deref()
            .ok_or_else(|| BlobError::Unavailable("no S3 URL configured".into()))?;
        let location = S3Location::parse(url)?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(args.s3_region.clone()))
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(timeouts())
            // Third-party servers mishandle the SDK's default checksums (aws-chunked
            // bodies stored verbatim, trailers refused): compute them only when an
            // operation requires one.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &args.s3_endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        match (&args.s3_access_key_id, &args.s3_secret_access_key) {
            (Some(id), Some(secret)) => {
                loader = loader.credentials_provider(Credentials::new(
                    id,
                    secret,
                    None,
                    None,
                    "facefix-static",
                ));
            }
            (None, None) => {}
            _ => {
                return Err(BlobError::Unavailable(
                    "set both --s3-access-key-id and --s3-secret-access-key, or neither (default chain)".into(),
                ));
            }
        }
        let sdk = loader.load().await;
        let config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(args.s3_path_style)
            .build();
        let store = Self {
            client: aws_sdk_s3::Client::from_conf(config),
            location,
        };
        if args.s3_create_bucket {
            store.create_bucket_if_missing(&args.s3_region).await?;
        }
        store.check().await?;
        Ok(store)
    }

    async fn create_bucket_if_missing(&self, region: &str) -> Result<(), BlobError> {
        let bucket = &self.location.bucket;
        match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => return Ok(()),
            Err(e) if status(&e) == Some(404) => {}
            Err(e) => return Err(unavailable(format!("checking bucket {bucket}"))(e)),
        }
        let mut request = self.client.create_bucket().bucket(bucket);
        // us-east-1 is the default location and must not be named (AWS refuses it).
        if region != "us-east-1" {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => {
                tracing::info!(bucket = %bucket, "created the bucket");
                Ok(())
            }
            // Another replica created it in the meantime.
            Err(e) if status(&e) == Some(409) => Ok(()),
            Err(e) => Err(unavailable(format!("creating bucket {bucket}"))(e)),
        }
    }

    /// The SDK client, for tools and tests that list or clean up beyond the port.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    pub fn location(&self) -> &S3Location {
        &self.location
    }

    fn describe(&self, name: &str) -> String {
        format!("s3://{}/{}", self.location.bucket, self.location.key(name))
    }
}

/// The body as a stream of chunks; it ends after the first error.
fn body_stream(
    body: ByteStream,
    context: String,
) -> futures_util::stream::BoxStream<'static, Result<Bytes, BlobError>> {
    futures_util::stream::unfold(Some(body), move |body| {
        let context = context.clone();
        async move {
            let mut body = body?;
            match body.next().await {
                Some(Ok(chunk)) => Some((Ok(chunk), Some(body))),
                Some(Err(e)) => Some((
                    Err(BlobError::Unavailable(format!("reading {context}: {e}"))),
                    None,
                )),
                None => None,
            }
        }
    })
    .boxed()
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &BlobKey, body: Bytes, content_type: &str) -> Result<(), BlobError> {
        // An in-memory body has a known length: a plain PUT, no aws-chunked encoding.
        self.client
            .put_object()
            .bucket(&self.location.bucket)
            .key(self.location.key(key.as_str()))
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable(format!(
                "writing {}",
                self.describe(key.as_str())
            )))
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Blob>, BlobError> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.location.bucket)
            .key(self.location.key(key.as_str()))
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if status(&e) == Some(404) => return Ok(None),
            Err(e) => {
                return Err(unavailable(format!(
                    "reading {}",
                    self.describe(key.as_str())
                ))(e));
            }
        };
        let content_type = output
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let length = output
            .content_length()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0);
        Ok(Some(Blob {
            content_type,
            length,
            body: body_stream(output.body, self.describe(key.as_str())),
        }))
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        // S3 answers 204 for a missing key too; some servers say 404: both mean "gone".
        match self
            .client
            .delete_object()
            .bucket(&self.location.bucket)
            .key(self.location.key(key.as_str()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(unavailable(format!(
                "deleting {}",
                self.describe(key.as_str())
            ))(e)),
        }
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        match self
            .client
            .head_object()
            .bucket(&self.location.bucket)
            .key(self.location.key(key.as_str()))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(unavailable(format!(
                "checking {}",
                self.describe(key.as_str())
            ))(e)),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, BlobError> {
        let limit = i32::try_from(limit.clamp(1, MAX_PAGE)).unwrap_or(1000);
        let output = self
            .client
            .list_objects_v2()
            .bucket(&self.location.bucket)
            .prefix(self.location.key(prefix))
            .set_start_after(start_after.map(|name| self.location.key(name)))
            .max_keys(limit)
            .send()
            .await
            .map_err(unavailable(format!("listing {}", self.describe(prefix))))?;
        let objects = output
            .contents()
            .iter()
            .filter_map(|object| {
                let name = self.location.name(object.key()?)?;
                // Without a date the object counts as new: it is never deleted by age early.
                let last_modified = object
                    .last_modified()
                    .and_then(|at| DateTime::<Utc>::from_timestamp(at.secs(), at.subsec_nanos()))
                    .unwrap_or_else(Utc::now);
                Some(ListedObject {
                    key: BlobKey::listed(name),
                    last_modified,
                })
            })
            .collect();
        Ok(ObjectPage {
            objects,
            truncated: output.is_truncated().unwrap_or(false),
        })
    }

    async fn check(&self) -> Result<(), BlobError> {
        let bucket = &self.location.bucket;
        self.client
            .head_bucket()
            .bucket(bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable(format!("bucket {bucket}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobId;

    #[test]
    fn locations_parse_with_and_without_prefix() {
        let id = JobId::new_random();
        let root = S3Location::parse("s3://photos").expect("root");
        let legacy = BlobKey::legacy_input(id);
        assert_eq!(root.key(legacy.as_str()), format!("jobs/{id}/input"));
        assert_eq!(
            root.name(&format!("jobs/{id}/input")),
            Some(legacy.as_str())
        );
        let nested = S3Location::parse("s3://photos/env/prod/").expect("nested");
        assert_eq!(nested.bucket, "photos");
        assert_eq!(
            nested.key(BlobKey::legacy_result(id).as_str()),
            format!("env/prod/jobs/{id}/result")
        );
        assert_eq!(nested.name("env/prod/jobs/x"), Some("jobs/x"));
        assert_eq!(nested.name("env/production/jobs/x"), None);
        assert!(S3Location::parse("s3:///x").is_err());
        assert!(S3Location::parse("https://photos").is_err());
    }
}
