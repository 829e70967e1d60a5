//! MongoDB sink tests against a MongoDB-wire server (SecantusDB from PyPI; MongoDB itself is on
//! no registry) at `$LLMSEC_TEST_MONGO_URL`, started by scripts/test.sh.

use llm_security_sink_mongo::{MongoConfig, MongoError, MongoSink};

#[cfg(feature = "integration-tests")]
mod mongo;

#[tokio::test]
async fn a_bad_uri_is_a_clear_error() {
    let err = MongoSink::connect(&MongoConfig::new("mongo://nope"))
        .await
        .unwrap_err();
    assert!(matches!(err, MongoError::Uri(_)), "{err}");
    let err = MongoSink::connect(&MongoConfig::new(
        "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500",
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, MongoError::Connect(_)), "{err}");
    assert!(!format!("{:?}", MongoConfig::new("mongodb://app:hunter2@db/")).contains("hunter2"));
}
