//! Server configuration: a TOML file, then environment variables on top. Secrets never appear in
//! `Debug` output or logs.

use std::path::{Path, PathBuf};

use llm_security::spool::{FullPolicy, SpoolConfig, SpoolHandle, SpooledSink};
use llm_security::{
    EventSink, JsonlFileSink, Pipeline, PipelineBuilder, SecurityConfig, SinkOptions,
};
use serde::Deserialize;

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown fields.
    #[error("invalid configuration: {0}")]
    Parse(String),
    /// A value is out of range, or a sink cannot be built.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Per-client request rate: a token bucket refilled at `per_second`, holding `burst` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per second per client (API key, else IP address).
    pub per_second: f64,
    /// Requests a client may make at once.
    pub burst: u32,
}

/// A sink to deliver events to. Secrets may be written as `env:NAME` to read them from the
/// environment.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// Append events to a JSON Lines file (the embedded default store).
    Jsonl {
        /// The file.
        path: PathBuf,
    },
    /// Store events in SQLite (the embedded default).
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// Store events in PostgreSQL (feature `postgres`).
    Postgres {
        /// `postgres://user:password@host/db` (or `env:NAME`).
        url: String,
    },
    /// Store events in MongoDB (feature `mongo`).
    Mongo {
        /// `mongodb://...` (or `env:NAME`).
        uri: String,
        /// Database (default `llm_security`).
        #[serde(default)]
        database: Option<String>,
        /// Collection (default `events`).
        #[serde(default)]
        collection: Option<String>,
        /// Days to keep events (a TTL index).
        #[serde(default)]
        ttl_days: Option<u64>,
    },
    /// S3 or an S3-compatible store (feature `s3`).
    S3 {
        /// Bucket.
        bucket: String,
        /// Region.
        region: String,
        /// Custom endpoint (path-style addressing).
        #[serde(default)]
        endpoint: Option<String>,
        /// Key prefix.
        #[serde(default)]
        prefix: Option<String>,
        /// Access key id (or `env:NAME`).
        access_key_id: String,
        /// Secret access key (or `env:NAME`).
        secret_access_key: String,
        /// Gzip objects.
        #[serde(default)]
        gzip: bool,
    },
    /// Print events to standard output.
    Stdout,
    /// Standard Webhooks (feature `webhook`).
    Webhook {
        /// Endpoint URL.
        url: String,
        /// `whsec_` secrets.
        #[serde(default)]
        secrets: Vec<String>,
        /// Event types to send (all when empty).
        #[serde(default)]
        events: Vec<String>,
    },
    /// Splunk HEC (feature `splunk`).
    Splunk {
        /// Collector base URL.
        endpoint: String,
        /// HEC token.
        token: String,
        /// Index.
        #[serde(default)]
        index: Option<String>,
    },
    /// Elasticsearch / OpenSearch (feature `elastic`).
    Elastic {
        /// Base URL.
        endpoint: String,
        /// Index or data stream.
        #[serde(default)]
        index: Option<String>,
        /// API key (encoded `id:key`).
        #[serde(default)]
        api_key: Option<String>,
        /// Map `llm_security.metadata` as not indexed before the first batch (default true;
        /// false where your own index template decides the mapping).
        #[serde(default)]
        map_metadata: Option<bool>,
    },
    /// Splunk SOAR (feature `phantom`).
    Phantom {
        /// Base URL.
        endpoint: String,
        /// `ph-auth-token`.
        token: String,
    },
    /// Grafana annotations (feature `grafana`).
    Grafana {
        /// Base URL.
        endpoint: String,
        /// Service-account token.
        token: String,
    },
    /// Publish events to a Kafka topic (feature `kafka`).
    Kafka {
        /// Bootstrap servers, `host:port[,...]`.
        brokers: String,
        /// The topic (it must exist).
        topic: String,
        /// Extra librdkafka properties (SASL, TLS); values may be `env:NAME`.
        #[serde(default)]
        properties: std::collections::BTreeMap<String, String>,
    },
    /// Publish events to a RabbitMQ topic exchange (feature `rabbitmq`).
    Rabbitmq {
        /// `amqp://user:password@host:port/vhost` (or `env:NAME`).
        uri: String,
        /// The exchange (default `llm-security`).
        #[serde(default)]
        exchange: Option<String>,
    },
}

impl std::fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Jsonl { path } => write!(f, "Jsonl({})", path.display()),
            Self::Stdout => f.write_str("Stdout"),
            Self::Sqlite { path } => write!(f, "Sqlite({})", path.display()),
            Self::Postgres { .. } => f.write_str("Postgres { url: [REDACTED] }"),
            Self::S3 {
                bucket,
                region,
                endpoint,
                ..
            } => write!(
                f,
                "S3 {{ bucket: {bucket:?}, region: {region:?}, endpoint: {endpoint:?}, credentials: [REDACTED] }}"
            ),
            Self::Mongo {
                database,
                collection,
                ..
            } => write!(
                f,
                "Mongo {{ uri: [REDACTED], database: {database:?}, collection: {collection:?} }}"
            ),
            Self::Webhook { url, events, .. } => write!(
                f,
                "Webhook {{ url: {url:?}, secrets: [REDACTED], events: {events:?} }}"
            ),
            Self::Splunk {
                endpoint, index, ..
            } => write!(
                f,
                "Splunk {{ endpoint: {endpoint:?}, token: [REDACTED], index: {index:?} }}"
            ),
            Self::Elastic {
                endpoint, index, ..
            } => write!(
                f,
                "Elastic {{ endpoint: {endpoint:?}, index: {index:?}, api_key: [REDACTED] }}"
            ),
            Self::Phantom { endpoint, .. } => {
                write!(f, "Phantom {{ endpoint: {endpoint:?}, token: [REDACTED] }}")
            }
            Self::Grafana { endpoint, .. } => {
                write!(f, "Grafana {{ endpoint: {endpoint:?}, token: [REDACTED] }}")
            }
            Self::Kafka {
                brokers,
                topic,
                properties,
            } => write!(
                f,
                "Kafka {{ brokers: {brokers:?}, topic: {topic:?}, properties: {:?} (values redacted) }}",
                properties.keys().collect::<Vec<_>>()
            ),
            Self::Rabbitmq { exchange, .. } => {
                write!(f, "Rabbitmq {{ uri: [REDACTED], exchange: {exchange:?} }}")
            }
        }
    }
}

/// A durable spool in front of every sink (`[spool]` in the configuration file).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SpoolSettings {
    /// Parent folder; each sink gets a sub-folder named after it. Default: `data_dir/spool`.
    pub dir: Option<PathBuf>,
    /// Bound of each sink's spool in bytes of event data (default 1 GiB).
    pub max_bytes: u64,
    /// `block` (default) or `drop_oldest`.
    pub when_full: FullPolicy,
}

impl Default for SpoolSettings {
    fn default() -> Self {
        Self {
            dir: None,
            max_bytes: 1 << 30,
            when_full: FullPolicy::Block,
        }
    }
}

/// The folder of a sink's spool under `parent`: the sink's name with anything but ASCII
/// letters, digits, `.`, `-` and `_` replaced by `_`.
pub fn spool_dir_for(parent: &Path, sink_name: &str) -> PathBuf {
    let clean: String = sink_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    parent.join(clean)
}

/// The server's configuration.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on (overridden by `PORT` / `FUNCTIONS_CUSTOMHANDLER_PORT`).
    pub listen: String,
    /// API keys accepted in `Authorization: Bearer <key>` or `x-api-key`; none means no auth.
    /// Environment: `LLM_SECURITY_API_KEYS` (comma-separated).
    pub api_keys: Vec<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Per-client rate limit; none when absent.
    pub rate_limit: Option<RateLimit>,
    /// Secrets that inbound webhooks to `/webhook` must be signed with; the endpoint refuses
    /// everything when empty. Environment: `LLM_SECURITY_WEBHOOK_SECRETS` (comma-separated).
    pub webhook_secrets: Vec<String>,
    /// The engine configuration.
    pub engine: SecurityConfig,
    /// Where events go; the SQLite store at `data_dir/events.db` when empty.
    pub sinks: Vec<SinkConfig>,
    /// Folder of the embedded default store.
    pub data_dir: PathBuf,
    /// Seconds to drain the sinks on shutdown.
    pub shutdown_timeout_secs: u64,
    /// A durable spool in front of every sink; none when absent.
    pub spool: Option<SpoolSettings>,
    /// The semantic tier (`[semantic]`, needs the server's `semantic` feature); none when absent.
    pub semantic: Option<SemanticSettings>,
}

/// The semantic tier (`[semantic]` in the configuration file).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SemanticSettings {
    /// The all-MiniLM-L6-v2 folder (config.json, tokenizer.json, model.safetensors).
    pub model_dir: PathBuf,
    /// The lowest fast-tier score that consults the semantic tier (default 0.2, the engine's
    /// `Cascade::default()`; 0 consults it for every input the fast tier does not flag).
    #[serde(default = "default_consult_from")]
    pub consult_from: f32,
}

/// The engine's default lower end of the consulted band; a server built without the
/// `semantic` feature has no `Cascade` to ask, so the value is repeated here (a test checks
/// that the two agree).
fn default_consult_from() -> f32 {
    0.2
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field(
                "api_keys",
                &format_args!("[REDACTED; {}]", self.api_keys.len()),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .field("rate_limit", &self.rate_limit)
            .field(
                "webhook_secrets",
                &format_args!("[REDACTED; {}]", self.webhook_secrets.len()),
            )
            .field("engine", &self.engine)
            .field("sinks", &self.sinks)
            .field("data_dir", &self.data_dir)
            .field("spool", &self.spool)
            .field("semantic", &self.semantic)
            .finish()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            api_keys: Vec::new(),
            max_body_bytes: 2 << 20,
            rate_limit: None,
            webhook_secrets: Vec::new(),
            engine: SecurityConfig::default(),
            sinks: Vec::new(),
            data_dir: PathBuf::from("llm-security-data"),
            shutdown_timeout_secs: 10,
            spool: None,
            semantic: None,
        }
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ServerConfig {
    /// Reads `path` (when given), then applies the environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?;
                Self::from_toml(&text)?
            }
            None => Self::default(),
        };
        config.apply_env(|k| std::env::var(k).ok());
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// Applies `LLM_SECURITY_API_KEYS`, `LLM_SECURITY_WEBHOOK_SECRETS`, `LLM_SECURITY_LISTEN` and
    /// `LLM_SECURITY_DATA_DIR` from `env`.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) {
        if let Some(v) = env("LLM_SECURITY_API_KEYS") {
            self.api_keys = split_list(&v);
        }
        if let Some(v) = env("LLM_SECURITY_WEBHOOK_SECRETS") {
            self.webhook_secrets = split_list(&v);
        }
        if let Some(v) = env("LLM_SECURITY_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = env("LLM_SECURITY_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.engine
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if self.max_body_bytes == 0 {
            return Err(ConfigError::Invalid(
                "max_body_bytes must be greater than zero".into(),
            ));
        }
        if let Some(spool) = &self.spool
            && spool.max_bytes == 0
        {
            return Err(ConfigError::Invalid(
                "spool.max_bytes must be greater than zero".into(),
            ));
        }
        if let Some(r) = self.rate_limit
            && (r.per_second.is_nan() || r.per_second <= 0.0 || r.burst == 0)
        {
            return Err(ConfigError::Invalid(
                "rate_limit needs per_second > 0 and burst > 0".into(),
            ));
        }
        Ok(())
    }

    /// The address to listen on: `PORT` (Cloud Run, all interfaces), else
    /// `FUNCTIONS_CUSTOMHANDLER_PORT` (Azure Functions custom handler, loopback), else `listen`.
    pub fn listen_address(&self, env: impl Fn(&str) -> Option<String>) -> String {
        if let Some(port) = env("PORT").filter(|p| !p.is_empty()) {
            return format!("0.0.0.0:{port}");
        }
        if let Some(port) = env("FUNCTIONS_CUSTOMHANDLER_PORT").filter(|p| !p.is_empty()) {
            return format!("127.0.0.1:{port}");
        }
        self.listen.clone()
    }
}

/// Reads a secret written as `env:NAME` from the environment; other values are used as given.
fn secret(value: &str) -> Result<String, ConfigError> {
    match value.strip_prefix("env:") {
        Some(name) => std::env::var(name)
            .map_err(|_| ConfigError::Invalid(format!("environment variable {name} is not set"))),
        None => Ok(value.to_owned()),
    }
}

#[allow(unused_variables, clippy::unnecessary_wraps)]
fn not_compiled(feature: &str) -> Result<(Pipeline, Vec<(String, SpoolHandle)>), ConfigError> {
    Err(ConfigError::Invalid(format!(
        "this server was built without the `{feature}` feature"
    )))
}

/// Adds sinks to a pipeline, each behind its own spool when one is configured. Keeps the first
/// error so that the sink list below reads as plain additions.
struct Assembler {
    builder: PipelineBuilder,
    spool: Option<(PathBuf, SpoolSettings)>,
    handles: Vec<(String, SpoolHandle)>,
    used_dirs: Vec<PathBuf>,
    error: Option<ConfigError>,
}

impl Assembler {
    fn sink(self, sink: impl EventSink + 'static) -> Self {
        self.sink_with(sink, SinkOptions::default())
    }

    fn sink_with(mut self, sink: impl EventSink + 'static, options: SinkOptions) -> Self {
        let Some((parent, settings)) = &self.spool else {
            self.builder = self.builder.sink_with(sink, options);
            return self;
        };
        // Same-named sinks get -2, -3, ... in the order they are configured.
        let base = spool_dir_for(parent, sink.name());
        let mut dir = base.clone();
        let mut n = 1;
        while self.used_dirs.contains(&dir) {
            n += 1;
            dir = PathBuf::from(format!("{}-{n}", base.display()));
        }
        self.used_dirs.push(dir.clone());
        let label = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let config = SpoolConfig::new(dir)
            .with_max_bytes(settings.max_bytes)
            .with_when_full(settings.when_full)
            .with_batch_events(options.batch.max_events);
        match SpooledSink::open(sink, config) {
            Ok(spooled) => {
                self.handles.push((label, spooled.handle()));
                self.builder = self
                    .builder
                    .sink_with(spooled, SpooledSink::recommended_options());
            }
            Err(e) => {
                self.error
                    .get_or_insert(ConfigError::Invalid(format!("spool: {e}")));
            }
        }
        self
    }
}

/// Builds the pipeline for the configured sinks, and the handles of their spools.
pub(crate) async fn build_pipeline(
    config: &ServerConfig,
) -> Result<(Pipeline, Vec<(String, SpoolHandle)>), ConfigError> {
    let mut builder = Assembler {
        builder: Pipeline::builder(),
        spool: config.spool.as_ref().map(|s| {
            let dir = s
                .dir
                .clone()
                .unwrap_or_else(|| config.data_dir.join("spool"));
            (dir, s.clone())
        }),
        handles: Vec::new(),
        used_dirs: Vec::new(),
        error: None,
    };
    let default_store = [SinkConfig::Sqlite {
        path: config.data_dir.join("events.db"),
    }];
    let sinks = if config.sinks.is_empty() {
        &default_store[..]
    } else {
        &config.sinks[..]
    };
    for sink in sinks {
        builder = match sink {
            SinkConfig::Jsonl { path } => builder.sink(
                JsonlFileSink::open(path)
                    .map_err(|e| ConfigError::Invalid(format!("events file: {e}")))?,
            ),
            SinkConfig::Stdout => builder.sink(llm_security::StdoutSink::new()),
            SinkConfig::Sqlite { path } => builder.sink(
                llm_security::sqlite::SqliteSink::open(path)
                    .await
                    .map_err(|e| ConfigError::Invalid(e.to_string()))?,
            ),
            #[cfg(feature = "mongo")]
            SinkConfig::Mongo {
                uri,
                database,
                collection,
                ttl_days,
            } => {
                use llm_security::mongo::{MongoConfig, MongoSink};
                let mut c = MongoConfig::new(secret(uri)?);
                if let Some(d) = database {
                    c.database.clone_from(d);
                }
                if let Some(n) = collection {
                    c.collection.clone_from(n);
                }
                if let Some(days) = ttl_days {
                    c = c.with_ttl(std::time::Duration::from_secs(days * 86_400));
                }
                builder.sink(
                    MongoSink::connect(&c)
                        .await
                        .map_err(|e| ConfigError::Invalid(e.to_string()))?,
                )
            }
            #[cfg(feature = "s3")]
            SinkConfig::S3 {
                bucket,
                region,
                endpoint,
                prefix,
                access_key_id,
                secret_access_key,
                gzip,
            } => {
                use llm_security::s3::{S3Config, S3Sink};
                let mut c = S3Config::new(
                    bucket,
                    region,
                    secret(access_key_id)?,
                    secret(secret_access_key)?,
                )
                .with_gzip(*gzip);
                if let Some(e) = endpoint {
                    c = c.with_endpoint(e);
                }
                if let Some(p) = prefix {
                    c.prefix.clone_from(p);
                }
                builder.sink_with(
                    S3Sink::new(c).map_err(|e| ConfigError::Invalid(e.to_string()))?,
                    S3Sink::recommended_options(),
                )
            }
            #[cfg(feature = "postgres")]
            SinkConfig::Postgres { url } => {
                use llm_security::postgres::{PostgresConfig, PostgresSink};
                let sink = PostgresSink::connect(&PostgresConfig::new(secret(url)?))
                    .await
                    .map_err(|e| ConfigError::Invalid(e.to_string()))?;
                builder.sink(sink)
            }
            #[cfg(feature = "webhook")]
            SinkConfig::Webhook {
                url,
                secrets,
                events,
            } => {
                use llm_security::webhook::{WebhookConfig, WebhookSink};
                let mut c = WebhookConfig::new().with_url(url);
                for s in secrets {
                    c = c.with_secret(secret(s)?);
                }
                let types = events
                    .iter()
                    .map(|e| {
                        serde_json::from_value(serde_json::Value::String(e.clone()))
                            .map_err(|_| ConfigError::Invalid(format!("unknown event type {e:?}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                c = c.with_events(types);
                builder.sink_with(
                    WebhookSink::new(c).map_err(|e| ConfigError::Invalid(e.to_string()))?,
                    WebhookSink::recommended_options(),
                )
            }
            #[cfg(feature = "splunk")]
            SinkConfig::Splunk {
                endpoint,
                token,
                index,
            } => {
                use llm_security::splunk::{HecConfig, HecSink};
                let mut c = HecConfig::new(endpoint, secret(token)?);
                c.index.clone_from(index);
                builder.sink_with(
                    HecSink::new(c).map_err(|e| ConfigError::Invalid(e.to_string()))?,
                    SinkOptions::default(),
                )
            }
            #[cfg(feature = "elastic")]
            SinkConfig::Elastic {
                endpoint,
                index,
                api_key,
                map_metadata,
            } => {
                use llm_security::elastic::{ElasticAuth, ElasticConfig, ElasticSink};
                let mut c = ElasticConfig::new(endpoint);
                if let Some(on) = map_metadata {
                    c = c.with_metadata_mapping(*on);
                }
                if let Some(i) = index {
                    c = c.with_index(i);
                }
                if let Some(k) = api_key {
                    c = c.with_auth(ElasticAuth::ApiKey(secret(k)?));
                }
                builder.sink(ElasticSink::new(c).map_err(|e| ConfigError::Invalid(e.to_string()))?)
            }
            #[cfg(feature = "phantom")]
            SinkConfig::Phantom { endpoint, token } => {
                use llm_security::phantom::{SoarConfig, SoarSink};
                builder.sink(
                    SoarSink::new(SoarConfig::new(endpoint, secret(token)?))
                        .map_err(|e| ConfigError::Invalid(e.to_string()))?,
                )
            }
            #[cfg(feature = "grafana")]
            SinkConfig::Grafana { endpoint, token } => {
                use llm_security::grafana::{GrafanaConfig, GrafanaSink};
                builder.sink(
                    GrafanaSink::new(GrafanaConfig::new(endpoint, secret(token)?))
                        .map_err(|e| ConfigError::Invalid(e.to_string()))?,
                )
            }
            #[cfg(feature = "kafka")]
            SinkConfig::Kafka {
                brokers,
                topic,
                properties,
            } => {
                use llm_security::kafka::{KafkaConfig, KafkaSink};
                let mut c = KafkaConfig::new(brokers, topic);
                for (k, v) in properties {
                    c = c.with_property(k, secret(v)?);
                }
                builder.sink_with(
                    KafkaSink::new(&c).map_err(|e| ConfigError::Invalid(e.to_string()))?,
                    KafkaSink::recommended_options(),
                )
            }
            #[cfg(feature = "rabbitmq")]
            SinkConfig::Rabbitmq { uri, exchange } => {
                use llm_security::rabbitmq::{RabbitConfig, RabbitSink};
                let mut c = RabbitConfig::new(secret(uri)?);
                if let Some(x) = exchange {
                    c = c.with_exchange(x);
                }
                builder.sink(
                    RabbitSink::connect(c)
                        .await
                        .map_err(|e| ConfigError::Invalid(e.to_string()))?,
                )
            }
            #[allow(unreachable_patterns)]
            other => {
                let name = match other {
                    SinkConfig::Webhook { .. } => "webhook",
                    SinkConfig::Splunk { .. } => "splunk",
                    SinkConfig::Elastic { .. } => "elastic",
                    SinkConfig::Phantom { .. } => "phantom",
                    SinkConfig::Grafana { .. } => "grafana",
                    SinkConfig::Postgres { .. } => "postgres",
                    SinkConfig::Mongo { .. } => "mongo",
                    SinkConfig::S3 { .. } => "s3",
                    SinkConfig::Kafka { .. } => "kafka",
                    SinkConfig::Rabbitmq { .. } => "rabbitmq",
                    _ => "unknown",
                };
                let _ = secret;
                return not_compiled(name);
            }
        };
    }
    if let Some(e) = builder.error {
        return Err(e);
    }
    let pipeline = builder
        .builder
        .build()
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    Ok((pipeline, builder.handles))
}
