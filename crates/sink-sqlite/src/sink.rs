//! The SQLite store.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use llm_security_core::{DeliveryReport, EventSink, SecurityEvent, SinkError, async_trait};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row as _, SqlitePool};

use crate::config::{EventQuery, SqliteError};
use crate::encoder::{json, ts};

/// The SQLite store. See the crate docs.
#[derive(Debug)]
pub struct SqliteSink {
    pool: SqlitePool,
    path: PathBuf,
    shut_down: AtomicBool,
}

fn classify(e: &sqlx::Error) -> SinkError {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => SinkError::transport(e.to_string()),
        // SQLITE_BUSY / SQLITE_LOCKED: another writer holds the file.
        sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("5" | "6" | "517")) => {
            SinkError::retriable(e.to_string())
        }
        _ => SinkError::permanent(e.to_string()),
    }
}

impl SqliteSink {
    /// Opens (or creates, with its folders) the store at `path` and applies the migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, SqliteError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |reason: String| SqliteError::Open {
            path: path.clone(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| open_err(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| SqliteError::Migrate {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            pool,
            path,
            shut_down: AtomicBool::new(false),
        })
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Events matching `query`, oldest first (the newest `limit` when a limit is given).
    pub async fn query(&self, query: &EventQuery) -> Result<Vec<SecurityEvent>, SqliteError> {
        let since = query.since.as_ref().map(ts).unwrap_or_default();
        let kind = query.event_type.map(|t| t.as_str().to_owned());
        let limit = i64::from(query.limit.unwrap_or(u32::MAX));
        let rows = sqlx::query(
            "SELECT event FROM (SELECT event, ts FROM llm_security_events WHERE ts >= ?1 AND (?2 IS NULL OR event_type = ?2) \
             ORDER BY ts DESC LIMIT ?3) ORDER BY ts ASC",
        )
        .bind(since)
        .bind(kind)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| SqliteError::Query(e.to_string()))?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(r.get::<&str, _>(0))
                    .map_err(|e| SqliteError::Query(e.to_string()))
            })
            .collect()
    }
}

#[async_trait]
impl EventSink for SqliteSink {
    fn name(&self) -> &str {
        "sqlite"
    }

    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        let mut tx = self.pool.begin().await.map_err(|e| classify(&e))?;
        let mut inserted = 0usize;
        for e in batch {
            let done = sqlx::query(
                "INSERT OR IGNORE INTO llm_security_events \
                 (id, event_type, ts, direction, is_secure, score, confidence, threats, user_id, session_id, captured_text, metadata, event) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .bind(e.id.to_string())
            .bind(e.event_type.as_str())
            .bind(ts(&e.timestamp))
            .bind(e.direction.as_str())
            .bind(e.is_secure)
            .bind(e.score)
            .bind(e.confidence)
            .bind(json(&e.threats))
            .bind(e.user_id.as_deref())
            .bind(e.session_id.as_deref())
            .bind(e.text.value.as_deref())
            .bind(json(&e.metadata))
            .bind(json(&**e))
            .execute(&mut *tx)
            .await
            .map_err(|e| classify(&e))?;
            inserted += usize::try_from(done.rows_affected()).unwrap_or(0);
        }
        tx.commit().await.map_err(|e| classify(&e))?;
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
