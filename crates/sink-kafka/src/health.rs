//! Health check: the topic's metadata, from the brokers.

use std::time::Duration;

use llm_security_core::SinkError;
use rdkafka::producer::Producer as _;

use crate::sink::KafkaSink;

impl KafkaSink {
    /// Fetches the topic's metadata (blocking librdkafka call, run off the async threads).
    pub(crate) async fn check(&self) -> Result<(), SinkError> {
        let producer = self.producer.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || {
            let metadata = producer
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(5))
                .map_err(SinkError::transport)?;
            match metadata.topics().iter().find(|t| t.name() == topic) {
                Some(t) if t.error().is_none() && !t.partitions().is_empty() => Ok(()),
                Some(t) => Err(SinkError::permanent(format!(
                    "topic {topic} is not usable: {:?}",
                    t.error()
                ))),
                None => Err(SinkError::permanent(format!(
                    "topic {topic} does not exist"
                ))),
            }
        })
        .await
        .map_err(SinkError::transport)?
    }
}
