//! Errors before any connection.

use llm_security_sink_postgres::{PostgresConfig, PostgresError, PostgresSink};

#[tokio::test]
async fn a_bad_url_is_a_clear_error() {
    let err = PostgresSink::connect(&PostgresConfig::new("not a url"))
        .await
        .unwrap_err();
    assert!(matches!(err, PostgresError::Url(_)), "{err}");
    let debug = format!(
        "{:?}",
        PostgresConfig::new("postgres://app:hunter2@db:5432/x")
    );
    assert!(
        !debug.contains("hunter2") && debug.contains("app:[REDACTED]@db"),
        "{debug}"
    );
}
