//! MongoDB sink for llm-security.
//!
//! Each batch is one unordered `insert_many` into `database.collection`. A document's `_id` is the
//! event id, so a re-delivered event fails with a duplicate-key error (11000) that is counted as a
//! duplicate, not an error, while the rest of the batch is inserted. Documents keep the whole event
//! under `event` and lift the fields worth querying (`event_type`, `timestamp` as a BSON date,
//! `direction`, `is_secure`, `score`, `user_id`, `session_id`, threat `kinds`). With a TTL, an
//! index on `timestamp` expires old events. Network and server-selection errors are retriable;
//! authentication and other write errors are not. Health: `ping`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use llm_security_core::{DeliveryReport, EventSink, SecurityEvent, SinkError, async_trait};
use mongodb::bson::{self, Document, doc};
use mongodb::error::{Error as MongoDriverError, ErrorKind};
use mongodb::options::IndexOptions;
use mongodb::{Client, Collection, IndexModel};

/// Why the sink cannot start.
#[derive(Debug, thiserror::Error)]
pub enum MongoError {
    /// The URI does not parse.
    #[error("invalid MongoDB URI: {0}")]
    Uri(String),
    /// The server cannot be reached or refused us.
    #[error("cannot reach MongoDB: {0}")]
    Connect(String),
    /// The TTL index could not be created.
    #[error("cannot create the TTL index: {0}")]
    Index(String),
}

/// Where and how to store events.
#[derive(Clone)]
pub struct MongoConfig {
    /// `mongodb://user:password@host:port/?options`. The password is never logged.
    pub uri: String,
    /// Database name.
    pub database: String,
    /// Collection name.
    pub collection: String,
    /// Expire events this long after their timestamp (a TTL index on `timestamp`).
    pub ttl: Option<Duration>,
}

impl std::fmt::Debug for MongoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let uri = match self.uri.split_once('@') {
            Some((creds, rest)) => format!(
                "{}:[REDACTED]@{rest}",
                creds.rsplit_once(':').map_or(creds, |(u, _)| u)
            ),
            None => self.uri.clone(),
        };
        f.debug_struct("MongoConfig")
            .field("uri", &uri)
            .field("database", &self.database)
            .field("collection", &self.collection)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl MongoConfig {
    /// Database `llm_security`, collection `events`, no TTL.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            database: "llm_security".into(),
            collection: "events".into(),
            ttl: None,
        }
    }

    /// Sets the database and collection.
    pub fn with_collection(
        mut self,
        database: impl Into<String>,
        collection: impl Into<String>,
    ) -> Self {
        self.database = database.into();
        self.collection = collection.into();
        self
    }

    /// Expires events `ttl` after their timestamp.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// The stored document for `event`.
pub fn document(event: &SecurityEvent) -> Result<Document, SinkError> {
    let nested = bson::to_document(event)
        .map_err(|e| SinkError::permanent(format!("cannot encode event {}: {e}", event.id)))?;
    let mut kinds: Vec<&str> = event.threats.iter().map(|t| t.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    Ok(doc! {
        "_id": event.id.to_string(),
        "event_type": event.event_type.as_str(),
        "timestamp": bson::DateTime::from_millis(event.timestamp.timestamp_millis()),
        "direction": event.direction.as_str(),
        "is_secure": event.is_secure,
        "score": f64::from(event.score),
        "user_id": event.user_id.clone(),
        "session_id": event.session_id.clone(),
        "kinds": kinds,
        "event": nested,
    })
}

/// Reads the event back from a stored document.
pub fn event_of(document: &Document) -> Result<SecurityEvent, String> {
    let nested = document.get_document("event").map_err(|e| e.to_string())?;
    bson::from_document(nested.clone()).map_err(|e| e.to_string())
}

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
        database
            .run_command(doc! {"ping": 1})
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
                    let duplicates = errors.iter().filter(|w| w.code == 11000).count();
                    let rejected = errors.len() - duplicates;
                    for w in errors.iter().filter(|w| w.code != 11000) {
                        tracing::error!(code = w.code, message = %w.message, "MongoDB refused an event.");
                    }
                    Ok(DeliveryReport {
                        delivered: batch.len() - errors.len(),
                        duplicates,
                        rejected,
                    })
                }
                _ if retriable(&e) => Err(SinkError::transport(e.to_string())),
                _ => Err(SinkError::permanent(e.to_string())),
            },
        }
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        self.client
            .database(&self.database)
            .run_command(doc! {"ping": 1})
            .await
            .map(|_| ())
            .map_err(|e| {
                if retriable(&e) {
                    SinkError::transport(e.to_string())
                } else {
                    SinkError::permanent(e.to_string())
                }
            })
    }

    async fn shutdown(&self, _timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        Ok(())
    }
}
