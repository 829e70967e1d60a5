//! The MongoDB sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use llm_security_core::{DeliveryReport, EventSink, SecurityEvent, SinkError, async_trait};
use mongodb::bson::{Document, doc};
use mongodb::error::{Error as MongoDriverError, ErrorKind};
use mongodb::options::IndexOptions;
use mongodb::{Client, Collection, IndexModel};

use crate::config::{MongoConfig, MongoError};
use crate::encoder::document;

/// Stores events in MongoDB. See the crate docs.
#[derive(Debug)]
pub struct MongoSink {
    client: Client,
    collection: Collection<Document>,
    database: String,
    shut_down: AtomicBool,
}

fn retriable(e: &MongoDriverError) -> bool {
    matches!(
        *e.kind,
        ErrorKind::Io(_)
            | ErrorKind::ServerSelection { .. }
            | ErrorKind::ConnectionPoolCleared { .. }
    ) || e.contains_label("RetryableWriteError")
        || e.contains_label("NetworkError")
}

impl MongoSink {
    /// Connects, checks the server answers `ping`, and creates the TTL index if configured.
    pub async fn connect(config: &MongoConfig) -> Result<Self, MongoError> {
        let client = Client::with_uri_str(&config.uri)
            .await
            .map_err(|e| MongoError::Uri(e.to_string()))?;
        let database = client.database(&config.database);
        crate::health::ping(&client, &config.database)
            .await
            .map_err(|e| MongoError::Connect(e.to_string()))?;
        let collection = database.collection::<Document>(&config.collection);
        if let Some(ttl) = config.ttl {
            let index = IndexModel::builder()
                .keys(doc! {"timestamp": 1})
                .options(
                    IndexOptions::builder()
                        .expire_after(ttl)
                        .name("timestamp_ttl".to_owned())
                        .build(),
                )
                .build();
            collection
                .create_index(index)
                .await
                .map_err(|e| MongoError::Index(e.to_string()))?;
        }
        Ok(Self {
            client,
            collection,
            database: config.database.clone(),
            shut_down: AtomicBool::new(false),
        })
    }

    /// The collection, for queries of your own.
    pub fn collection(&self) -> &Collection<Document> {
        &self.collection
    }
}

#[async_trait]
impl EventSink for MongoSink {
    fn name(&self) -> &str {
        "mongodb"
    }

    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        let docs = batch
            .iter()
            .map(|e| document(e))
            .collect::<Result<Vec<_>, _>>()?;
        match self.collection.insert_many(docs).ordered(false).await {
            Ok(result) => Ok(DeliveryReport::delivered(result.inserted_ids.len())),
            Err(e) => match &*e.kind {
                ErrorKind::InsertMany(failure) if failure.write_concern_error.is_none() => {
                    let errors = failure.write_errors.as_deref().unwrap_or_default();
                    let mut report = DeliveryReport {
                        delivered: batch.len() - errors.len(),
                        ..DeliveryReport::default()
                    };
                    for w in errors {
                        if w.code == 11000 {
                            report.duplicates += 1;
                        } else {
                            tracing::error!(code = w.code, message = %w.message, index = w.index, "MongoDB refused an event.");
                            report.reject(w.index);
                        }
                    }
                    Ok(report)
                }
                _ if retriable(&e) => Err(SinkError::transport(e.to_string())),
                _ => Err(SinkError::permanent(e.to_string())),
            },
        }
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        crate::health::ping(&self.client, &self.database)
            .await
            .map_err(|e| {
                if retriable(&e) {
                    SinkError::transport(e.to_string())
                } else {
                    SinkError::permanent(e.to_string())
                }
            })
    }

    async fn shutdown(&self, timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        // Stop the driver's background workers (monitors, connection pools) while the runtime
        // still runs them. Left to be dropped with the runtime, a pool worker could go first and
        // a pending connection request then panicked inside the driver
        // (`connection_requester.rs`, seen at the end of the example). `immediate`: the sink holds
        // no cursor or session to wait for.
        if tokio::time::timeout(timeout, self.client.clone().shutdown().immediate(true))
            .await
            .is_err()
        {
            return Err(SinkError::transport(format!(
                "the MongoDB client did not shut down within {timeout:?}"
            )));
        }
        Ok(())
    }
}
