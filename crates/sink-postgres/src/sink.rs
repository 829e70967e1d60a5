//! The PostgreSQL sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use llm_security_core::{DeliveryReport, EventSink, SecurityEvent, SinkError, async_trait};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::config::{PostgresConfig, PostgresError};
use crate::encoder::Rows;

const INSERT: &str = "INSERT INTO llm_security_events \
    (id, event_type, ts, direction, is_secure, score, confidence, threats, user_id, session_id, captured_text, metadata, event) \
    SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::bool[], $6::real[], $7::real[], \
    $8::jsonb[], $9::text[], $10::text[], $11::text[], $12::jsonb[], $13::jsonb[]) \
    ON CONFLICT (id) DO NOTHING";

/// Stores events in PostgreSQL. See the crate docs.
#[derive(Debug)]
pub struct PostgresSink {
    pool: PgPool,
    shut_down: AtomicBool,
}

/// Connection trouble, a server going down, lack of resources and serialization conflicts pass;
/// bad credentials, permissions and data do not.
fn classify(e: &sqlx::Error) -> SinkError {
    let retriable = match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            ["08", "53", "57", "40", "58"]
                .iter()
                .any(|class| c.starts_with(class))
        }),
        _ => false,
    };
    if retriable {
        SinkError::transport(e.to_string())
    } else {
        SinkError::permanent(e.to_string())
    }
}

impl PostgresSink {
    /// Connects, and applies the embedded migrations. Fails with a clear error on a bad URL,
    /// wrong credentials, an unknown database or an unreachable server.
    pub async fn connect(config: &PostgresConfig) -> Result<Self, PostgresError> {
        let options = config.options()?;
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.connect_timeout)
            .connect_with(options)
            .await
            .map_err(|e| PostgresError::Connect(e.to_string()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| PostgresError::Migrate(e.to_string()))?;
        Ok(Self {
            pool,
            shut_down: AtomicBool::new(false),
        })
    }

    /// The connection pool, for queries of your own.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl EventSink for PostgresSink {
    fn name(&self) -> &str {
        "postgres"
    }

    /// One statement for the whole batch; rows that already existed count as duplicates.
    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        let events: Vec<&SecurityEvent> = batch.iter().map(AsRef::as_ref).collect();
        let r = Rows::of(&events);
        let done = sqlx::query(INSERT)
            .bind(r.id)
            .bind(r.event_type)
            .bind(r.ts)
            .bind(r.direction)
            .bind(r.is_secure)
            .bind(r.score)
            .bind(r.confidence)
            .bind(r.threats)
            .bind(r.user_id)
            .bind(r.session_id)
            .bind(r.captured_text)
            .bind(r.metadata)
            .bind(r.event)
            .execute(&self.pool)
            .await
            .map_err(|e| classify(&e))?;
        let inserted = usize::try_from(done.rows_affected())
            .unwrap_or(usize::MAX)
            .min(batch.len());
        Ok(DeliveryReport {
            delivered: inserted,
            duplicates: batch.len() - inserted,
            ..DeliveryReport::default()
        })
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        crate::health::select_one(&self.pool)
            .await
            .map_err(|e| classify(&e))
    }

    async fn shutdown(&self, timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        tokio::time::timeout(timeout, self.pool.close())
            .await
            .map_err(|_| SinkError::Timeout(timeout))
    }
}
