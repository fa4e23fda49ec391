//! S3-compatible object storage (feature `s3`): `object_store`'s AmazonS3 configured from the
//! `MINIO_*` settings — path-style requests to a custom endpoint, so MinIO and any other
//! S3-compatible server work as well as AWS. The artifact store on top of it keys objects
//! per bank and switches to multipart uploads for large files.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use secrecy::ExposeSecret;

use crate::config::S3Settings;
use crate::error::{Error, Result};

/// How long start-up waits for the bucket to answer.
const STARTUP_CHECK: Duration = Duration::from_secs(10);

/// `bucket` on the endpoint of `settings`.
pub fn object_store(settings: &S3Settings, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
    let client = ClientOptions::new()
        .with_allow_http(settings.endpoint.starts_with("http://"))
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120));
    // Few, quick retries: a request that still fails surfaces as `dependency_unavailable`
    // instead of holding an upload for minutes (the library's default).
    let retry = RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(15), ..Default::default() };
    let store = AmazonS3Builder::new()
        .with_endpoint(settings.endpoint.trim_end_matches('/'))
        .with_region(&settings.region)
        .with_bucket_name(bucket)
        .with_access_key_id(&settings.access_key)
        .with_secret_access_key(settings.secret_key.expose_secret())
        .with_virtual_hosted_style_request(false)
        .with_client_options(client)
        .with_retry(retry)
        .build()
        .map_err(|e| Error::invalid("invalid_config", format!("MINIO_ENDPOINT: {e}")))?;
    Ok(Arc::new(store))
}

/// Fails start-up clearly when the bucket cannot be reached or the credentials are refused,
/// rather than accepting uploads that cannot be stored.
pub async fn check_at_startup(objects: &dyn ObjectStore, settings: &S3Settings, bucket: &str) -> Result<()> {
    let probe = object_store::path::Path::from("health/probe");
    let outcome = tokio::time::timeout(STARTUP_CHECK, objects.head(&probe)).await;
    let reason = match outcome {
        Ok(Ok(_)) | Ok(Err(object_store::Error::NotFound { .. })) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} s", STARTUP_CHECK.as_secs()),
    };
    Err(Error::unavailable(
        "object_store",
        format!(
            "bucket {bucket} at {} cannot be used (check MINIO_ENDPOINT, MINIO_ACCESS_KEY, MINIO_SECRET_KEY, MINIO_BUCKET, MINIO_BACKUP_BUCKET): {reason}",
            settings.endpoint
        ),
    ))
}
