//! AWS Lambda entry point: the same router behind API Gateway (HTTP and REST APIs) or an
//! Application Load Balancer, through `lambda_http`.
//!
//! Configuration comes from the environment (`LLM_SECURITY_*`, or a TOML file named by
//! `LLM_SECURITY_SERVER_CONFIG` packaged with the function). Configure a sink: the function's
//! disk does not outlive it. Build with `cargo build --release -p llm-security-server --features
//! lambda --bin llm-security-lambda` and package the binary as `bootstrap`.

use llm_security_server::{ServerConfig, app, build_state};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let config_path = std::env::var_os("LLM_SECURITY_SERVER_CONFIG").map(std::path::PathBuf::from);
    let mut config = ServerConfig::load(config_path.as_deref())?;
    if std::env::var_os("LLM_SECURITY_DATA_DIR").is_none() {
        // /tmp is the only writable folder in Lambda.
        config.data_dir = std::env::temp_dir().join("llm-security-data");
    }
    let state = build_state(config).await?;
    lambda_http::run(app(state)).await
}
