//! Shared by the real-service test files: the switch, the service addresses and the
//! unique names that keep parallel tests apart.

#![allow(dead_code)]

use facefix_shared::config::{BlobArgs, QueueArgs, StoreArgs};
use std::time::Duration;

/// Whether the real services are to be tested. When set, a missing service fails the
/// tests; when not, the tests say they were skipped and pass.
pub fn services_enabled(test: &str) -> bool {
    let enabled = std::env::var("FACEFIX_TEST_SERVICES").is_ok_and(|v| v == "1" || v == "true");
    if !enabled {
        eprintln!(
            "{test}: skipped: FACEFIX_TEST_SERVICES not set (run deploy/dev-services.sh start and eval its env)"
        );
    }
    enabled
}

pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

pub fn amqp_url() -> String {
    env_or(
        "FACEFIX_TEST_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2f",
    )
}

pub fn redis_url() -> String {
    env_or("FACEFIX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
}

/// A short unique token for names.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

pub fn queue_args(prefix: &str, delivery_limit: u32) -> QueueArgs {
    QueueArgs {
        queue_url: Some(amqp_url()),
        queue_prefix: prefix.to_string(),
        queue_delivery_limit: delivery_limit,
        publish_timeout: Duration::from_secs(10),
    }
}

pub fn store_args(prefix: &str) -> StoreArgs {
    StoreArgs {
        store_url: Some(redis_url()),
        store_prefix: prefix.to_string(),
        store_pool_size: 4,
    }
}

pub fn blob_args(object_prefix: &str) -> BlobArgs {
    BlobArgs {
        blob_url: Some(format!(
            "s3://{}/{object_prefix}",
            env_or("FACEFIX_TEST_S3_BUCKET", "facefix-test")
        )),
        data_dir: std::env::temp_dir(),
        s3_endpoint: Some(env_or("FACEFIX_TEST_S3_ENDPOINT", "http://127.0.0.1:9000")),
        s3_region: "us-east-1".into(),
        s3_path_style: true,
        s3_access_key_id: Some(env_or("FACEFIX_TEST_S3_ACCESS_KEY", "facefix")),
        s3_secret_access_key: Some(env_or("FACEFIX_TEST_S3_SECRET_KEY", "facefix-dev-secret")),
        s3_create_bucket: true,
    }
}

/// Deletes every Redis key under `prefix`. Reports instead of panicking: it runs after a
/// failed test too, whose own panic is the one that matters.
pub async fn delete_redis_keys(prefix: &str) {
    let result = async {
        let client = redis::Client::open(redis_url())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
        }
        Ok::<_, redis::RedisError>(())
    };
    if let Err(e) = result.await {
        eprintln!("cleanup of Redis keys {prefix}*: {e}");
    }
}
