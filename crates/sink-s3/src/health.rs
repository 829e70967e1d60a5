//! The health check.

use aws_sdk_s3::Client;
use llm_security_core::SinkError;

/// `HeadBucket`: the bucket exists and the credentials may use it.
pub(crate) async fn head_bucket(client: &Client, bucket: &str) -> Result<(), SinkError> {
    client
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| crate::sink::classify(&e))
}
