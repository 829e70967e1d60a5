//! Settings of the Kafka sink.

use std::time::Duration;

use rdkafka::ClientConfig;

/// Why the sink cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// A setting is missing or out of range.
    #[error("invalid Kafka configuration: {0}")]
    Config(String),
    /// librdkafka refused the configuration.
    #[error("cannot create the Kafka producer: {0}")]
    Client(String),
}

/// Message compression (all built into librdkafka here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4 (the default: cheap and effective on JSON).
    #[default]
    Lz4,
}

impl Compression {
    fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
        }
    }
}

/// Settings of one Kafka sink.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// The topic events go to (it must exist).
    pub topic: String,
    /// Compression of message batches.
    pub compression: Compression,
    /// `client.id`.
    pub client_id: String,
    /// How long librdkafka may try to deliver one message (`message.timeout.ms`). Keep it below
    /// the pipeline's request timeout so a batch fails before the pipeline gives up on it.
    pub delivery_timeout: Duration,
    /// Extra librdkafka properties, e.g. `security.protocol=SASL_SSL`, `sasl.mechanism=SCRAM-SHA-512`,
    /// `sasl.username`, `sasl.password`, `ssl.ca.location`.
    pub properties: Vec<(String, String)>,
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let props: Vec<_> = self
            .properties
            .iter()
            .map(|(k, v)| {
                let secret = k.contains("password") || k.contains("secret") || k.contains("key");
                (k.as_str(), if secret { "[REDACTED]" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("topic", &self.topic)
            .field("compression", &self.compression)
            .field("client_id", &self.client_id)
            .field("delivery_timeout", &self.delivery_timeout)
            .field("properties", &props)
            .finish()
    }
}

impl KafkaConfig {
    /// Events to `topic` on `brokers`, LZ4, 20 s delivery timeout.
    pub fn new(brokers: impl Into<String>, topic: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            topic: topic.into(),
            compression: Compression::Lz4,
            client_id: "llm-security".into(),
            delivery_timeout: Duration::from_secs(20),
            properties: Vec::new(),
        }
    }

    /// Sets the compression.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets the delivery timeout.
    pub fn with_delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = timeout;
        self
    }

    /// Adds a librdkafka property (SASL, TLS, tuning). It overrides the sink's own settings,
    /// except idempotence and `acks`, which the sink always enforces.
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((key.into(), value.into()));
        self
    }

    /// Checks the settings and builds the librdkafka configuration.
    pub fn client_config(&self) -> Result<ClientConfig, KafkaError> {
        if self.brokers.trim().is_empty() {
            return Err(KafkaError::Config("brokers must not be empty".into()));
        }
        if self.topic.is_empty()
            || self.topic.len() > 249
            || !self
                .topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(KafkaError::Config(format!(
                "invalid topic name {:?}: 1 to 249 of [a-zA-Z0-9._-]",
                self.topic
            )));
        }
        if self.delivery_timeout < Duration::from_millis(100) {
            return Err(KafkaError::Config(
                "delivery_timeout must be at least 100 ms".into(),
            ));
        }
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", &self.client_id)
            .set("compression.type", self.compression.as_str())
            .set(
                "message.timeout.ms",
                self.delivery_timeout.as_millis().to_string(),
            )
            .set("linger.ms", "5");
        for (k, v) in &self.properties {
            config.set(k, v);
        }
        config.set("enable.idempotence", "true").set("acks", "all");
        Ok(config)
    }
}
