//! The on-disk part: an embedded transactional store (redb) holding undelivered and
//! dead-lettered events in append order.
//!
//! Every call is one transaction committed with immediate durability (fsync), so an event the
//! store accepted survives a crash of the process or the machine, and a crash mid-call leaves
//! the store as it was before the call. Calls block; the async side runs them on tokio's
//! blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use llm_security_core::SecurityEvent;
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle,
};

use crate::config::FullPolicy;
use crate::error::SpoolError;

/// Undelivered events: sequence number → record.
const PENDING: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("pending");
/// Events the destination refused for good: sequence number → record.
const DEAD: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("dead");
/// Counters kept in the same transactions as the events they count.
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");

const NEXT_SEQ: &str = "next_seq";
const PENDING_BYTES: &str = "pending_bytes";
const DEAD_BYTES: &str = "dead_bytes";

/// The name of the spool's file inside its directory.
pub const FILE_NAME: &str = "spool.redb";

/// One spooled event.
#[derive(Debug, Clone)]
pub struct Record {
    /// Position in the spool; increases with every append, never reused.
    pub seq: u64,
    /// When the event was spooled, in milliseconds since the Unix epoch.
    pub spooled_at_ms: u64,
    /// The event.
    pub event: Arc<SecurityEvent>,
}

/// A record that could not be decoded (the file was damaged outside redb's checks).
#[derive(Debug, Clone)]
pub struct Unreadable {
    /// Its position.
    pub seq: u64,
    /// Why it could not be decoded.
    pub reason: String,
}

/// What an append did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Appended {
    /// Events of the call now on disk (a prefix of them, under [`FullPolicy::Block`]).
    pub stored: usize,
    /// Older events removed to make room ([`FullPolicy::DropOldest`]), plus new events that
    /// were larger than the whole spool and so could not be kept.
    pub evicted: u64,
}

/// How full the spool is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Undelivered events.
    pub pending_events: u64,
    /// Their encoded size.
    pub pending_bytes: u64,
    /// Dead-lettered events.
    pub dead_events: u64,
    /// Their encoded size.
    pub dead_bytes: u64,
    /// When the oldest undelivered event was spooled (ms since the Unix epoch).
    pub oldest_spooled_at_ms: Option<u64>,
}

/// Encodes a record: the spool time as 8 little-endian bytes, then the event's JSON.
pub fn encode_record(spooled_at_ms: u64, event: &SecurityEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&spooled_at_ms.to_le_bytes());
    // Serializing our own event type into a Vec cannot fail.
    serde_json::to_writer(&mut out, event).unwrap_or_default();
    out
}

/// Decodes a record written by [`encode_record`]; any other input is a clear error.
pub fn decode_record(bytes: &[u8]) -> Result<(u64, SecurityEvent), String> {
    let Some((time, json)) = bytes.split_first_chunk::<8>() else {
        return Err(format!("record of {} bytes is too short", bytes.len()));
    };
    let event = serde_json::from_slice(json).map_err(|e| format!("record is not an event: {e}"))?;
    Ok((u64::from_le_bytes(*time), event))
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The store of one spool.
#[derive(Debug)]
pub struct Store {
    db: Database,
    path: PathBuf,
    max_bytes: u64,
}

impl Store {
    /// Opens (or creates) the store in `dir`, bounded to `max_bytes` of event data. Fails with
    /// [`SpoolError::InUse`] when another process has it open.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, SpoolError> {
        let path = dir.join(FILE_NAME);
        std::fs::create_dir_all(dir).map_err(|e| SpoolError::Storage {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                SpoolError::InUse(path.display().to_string())
            }
            other => SpoolError::Storage {
                path: path.display().to_string(),
                message: other.to_string(),
            },
        })?;
        let mut store = Self {
            db,
            path,
            max_bytes,
        };
        // Create the tables so that readers never meet a missing one.
        store.write(|txn| {
            txn.open_table(PENDING)?;
            txn.open_table(DEAD)?;
            txn.open_table(META)?;
            Ok(())
        })?;
        if let Err(e) = store.compact_if_sparse() {
            // Only disk space is at stake: the spool works uncompacted.
            tracing::warn!(path = %store.path.display(), error = %e, "Spool file not compacted.");
        }
        Ok(store)
    }

    /// Gives unused space back to the file system when the file is much larger than what it
    /// holds. Freed pages are reused while the spool runs, so the file stays at its high-water
    /// mark after an outage; opening the spool (the next start, or `llm-security spool`) is
    /// when nothing else uses it and it can shrink. Returns whether it compacted.
    fn compact_if_sparse(&mut self) -> Result<bool, String> {
        /// Files up to this size are left alone.
        const SMALL_FILE: u64 = 16 << 20;
        let file = std::fs::metadata(&self.path)
            .map_err(|e| e.to_string())?
            .len();
        let usage = self.usage().map_err(|e| e.to_string())?;
        let held = usage.pending_bytes + usage.dead_bytes;
        if file <= SMALL_FILE || file <= held.saturating_mul(4) {
            return Ok(false);
        }
        let compacted = self.db.compact().map_err(|e| e.to_string())?;
        if compacted {
            let after = std::fs::metadata(&self.path).map_or(file, |m| m.len());
            tracing::info!(path = %self.path.display(), before = file, after, "Spool file compacted.");
        }
        Ok(compacted)
    }

    /// The spool's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The size bound in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn storage_error(&self, e: impl std::fmt::Display) -> SpoolError {
        SpoolError::Storage {
            path: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, SpoolError> {
        let txn = self.db.begin_write().map_err(|e| self.storage_error(e))?;
        let value = f(&txn).map_err(|e| self.storage_error(e))?;
        txn.commit().map_err(|e| self.storage_error(e))?;
        Ok(value)
    }

    /// Appends `events` in one transaction. When they do not all fit: under
    /// [`FullPolicy::Block`] the longest prefix that fits is stored (possibly none); under
    /// [`FullPolicy::DropOldest`] the oldest pending events (then the oldest dead letters) are
    /// removed until they fit.
    pub fn append(
        &self,
        events: &[Arc<SecurityEvent>],
        policy: FullPolicy,
    ) -> Result<Appended, SpoolError> {
        let now = now_ms();
        let records: Vec<Vec<u8>> = events.iter().map(|e| encode_record(now, e)).collect();
        let max = self.max_bytes;
        self.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let mut pending = txn.open_table(PENDING)?;
            let mut dead = txn.open_table(DEAD)?;
            let get = |meta: &redb::Table<'_, &str, u64>, key: &str| -> Result<u64, redb::Error> {
                Ok(meta.get(key)?.map_or(0, |v| v.value()))
            };
            let mut seq = get(&meta, NEXT_SEQ)?;
            let mut pending_bytes = get(&meta, PENDING_BYTES)?;
            let mut dead_bytes = get(&meta, DEAD_BYTES)?;
            let mut outcome = Appended::default();
            for record in &records {
                let size = record.len() as u64;
                if size > max {
                    // Larger than the whole spool: it can never be kept.
                    outcome.evicted += 1;
                    outcome.stored += 1;
                    continue;
                }
                while pending_bytes + dead_bytes + size > max {
                    if policy == FullPolicy::Block {
                        break;
                    }
                    if let Some((_, v)) = pending.pop_first()? {
                        pending_bytes = pending_bytes.saturating_sub(v.value().len() as u64);
                    } else if let Some((_, v)) = dead.pop_first()? {
                        dead_bytes = dead_bytes.saturating_sub(v.value().len() as u64);
                    } else {
                        break;
                    }
                    outcome.evicted += 1;
                }
                if pending_bytes + dead_bytes + size > max {
                    break;
                }
                pending.insert(seq, record.as_slice())?;
                seq += 1;
                pending_bytes += size;
                outcome.stored += 1;
            }
            meta.insert(NEXT_SEQ, seq)?;
            meta.insert(PENDING_BYTES, pending_bytes)?;
            meta.insert(DEAD_BYTES, dead_bytes)?;
            Ok(outcome)
        })
    }

    /// The oldest `max` pending records, oldest first; records that cannot be decoded are
    /// returned apart so that the caller can dead-letter them.
    pub fn peek(&self, max: usize) -> Result<(Vec<Record>, Vec<Unreadable>), SpoolError> {
        let txn = self.db.begin_read().map_err(|e| self.storage_error(e))?;
        let table = txn.open_table(PENDING).map_err(|e| self.storage_error(e))?;
        let mut records = Vec::new();
        let mut unreadable = Vec::new();
        for entry in table.range::<u64>(..).map_err(|e| self.storage_error(e))? {
            if records.len() + unreadable.len() >= max {
                break;
            }
            let (k, v) = entry.map_err(|e| self.storage_error(e))?;
            match decode_record(v.value()) {
                Ok((spooled_at_ms, event)) => records.push(Record {
                    seq: k.value(),
                    spooled_at_ms,
                    event: Arc::new(event),
                }),
                Err(reason) => unreadable.push(Unreadable {
                    seq: k.value(),
                    reason,
                }),
            }
        }
        Ok((records, unreadable))
    }

    /// Removes delivered records.
    pub fn ack(&self, seqs: &[u64]) -> Result<(), SpoolError> {
        self.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let mut pending = txn.open_table(PENDING)?;
            let mut freed = 0u64;
            for seq in seqs {
                if let Some(v) = pending.remove(seq)? {
                    freed += v.value().len() as u64;
                }
            }
            let bytes = meta.get(PENDING_BYTES)?.map_or(0, |v| v.value());
            meta.insert(PENDING_BYTES, bytes.saturating_sub(freed))?;
            Ok(())
        })
    }

    /// Moves records from the pending table to the dead letters.
    pub fn dead_letter(&self, seqs: &[u64]) -> Result<(), SpoolError> {
        self.move_records(seqs.iter().copied(), PENDING, DEAD)
            .map(|_| ())
    }

    /// Moves every dead letter back to the pending table (they are delivered again, in their
    /// original order relative to each other). Returns how many moved.
    pub fn requeue_dead(&self) -> Result<u64, SpoolError> {
        let seqs = self.keys(DEAD)?;
        self.move_records(seqs.into_iter(), DEAD, PENDING)
    }

    fn keys(&self, table: TableDefinition<'_, u64, &[u8]>) -> Result<Vec<u64>, SpoolError> {
        let txn = self.db.begin_read().map_err(|e| self.storage_error(e))?;
        let table = txn.open_table(table).map_err(|e| self.storage_error(e))?;
        let mut keys = Vec::new();
        for entry in table.range::<u64>(..).map_err(|e| self.storage_error(e))? {
            keys.push(entry.map_err(|e| self.storage_error(e))?.0.value());
        }
        Ok(keys)
    }

    fn move_records(
        &self,
        seqs: impl Iterator<Item = u64>,
        from: TableDefinition<'_, u64, &[u8]>,
        to: TableDefinition<'_, u64, &[u8]>,
    ) -> Result<u64, SpoolError> {
        let (from_key, to_key) = if from.name() == PENDING.name() {
            (PENDING_BYTES, DEAD_BYTES)
        } else {
            (DEAD_BYTES, PENDING_BYTES)
        };
        self.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let mut source = txn.open_table(from)?;
            let mut target = txn.open_table(to)?;
            let (mut moved, mut bytes) = (0u64, 0u64);
            for seq in seqs {
                if let Some(v) = source.remove(seq)? {
                    let value = v.value().to_vec();
                    drop(v);
                    bytes += value.len() as u64;
                    target.insert(seq, value.as_slice())?;
                    moved += 1;
                }
            }
            let from_bytes = meta.get(from_key)?.map_or(0, |v| v.value());
            let to_bytes = meta.get(to_key)?.map_or(0, |v| v.value());
            meta.insert(from_key, from_bytes.saturating_sub(bytes))?;
            meta.insert(to_key, to_bytes + bytes)?;
            Ok(moved)
        })
    }

    /// Deletes pending and/or dead-lettered events. Returns how many of each were deleted.
    pub fn purge(&self, pending: bool, dead: bool) -> Result<(u64, u64), SpoolError> {
        self.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let mut counts = (0, 0);
            if pending {
                let mut table = txn.open_table(PENDING)?;
                counts.0 = table.len()?;
                table.retain(|_, _| false)?;
                meta.insert(PENDING_BYTES, 0)?;
            }
            if dead {
                let mut table = txn.open_table(DEAD)?;
                counts.1 = table.len()?;
                table.retain(|_, _| false)?;
                meta.insert(DEAD_BYTES, 0)?;
            }
            Ok(counts)
        })
    }

    /// How full the spool is.
    pub fn usage(&self) -> Result<Usage, SpoolError> {
        let txn = self.db.begin_read().map_err(|e| self.storage_error(e))?;
        let read = || -> Result<Usage, redb::Error> {
            let meta = txn.open_table(META)?;
            let pending = txn.open_table(PENDING)?;
            let dead = txn.open_table(DEAD)?;
            let oldest = match pending.first()? {
                Some((_, v)) => v
                    .value()
                    .split_first_chunk::<8>()
                    .map(|(t, _)| u64::from_le_bytes(*t)),
                None => None,
            };
            Ok(Usage {
                pending_events: pending.len()?,
                pending_bytes: meta.get(PENDING_BYTES)?.map_or(0, |v| v.value()),
                dead_events: dead.len()?,
                dead_bytes: meta.get(DEAD_BYTES)?.map_or(0, |v| v.value()),
                oldest_spooled_at_ms: oldest,
            })
        };
        read().map_err(|e| self.storage_error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llm_security_core::{AnalysisContext, CapturePolicy, SecurityConfig, SecurityEngine};

    fn event(n: usize) -> Arc<SecurityEvent> {
        event_about(&format!("question number {n}"))
    }

    /// An event whose captured text is `text`.
    fn event_about(text: &str) -> Arc<SecurityEvent> {
        let engine = SecurityEngine::with_config(SecurityConfig::new());
        let analysis = engine.analyze(text).unwrap();
        Arc::new(SecurityEvent::from_analysis(
            &analysis,
            text,
            &AnalysisContext::new(),
            CapturePolicy::Full,
        ))
    }

    fn ids(records: &[Record]) -> Vec<u128> {
        records.iter().map(|r| r.event.id.as_u128()).collect()
    }

    #[test]
    fn append_peek_ack_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<_> = (0..10).map(event).collect();
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            let out = store.append(&events, FullPolicy::Block).unwrap();
            assert_eq!(
                out,
                Appended {
                    stored: 10,
                    evicted: 0
                }
            );
            let (first, bad) = store.peek(4).unwrap();
            assert!(bad.is_empty());
            assert_eq!(
                ids(&first),
                events[..4]
                    .iter()
                    .map(|e| e.id.as_u128())
                    .collect::<Vec<_>>()
            );
            store
                .ack(&first.iter().map(|r| r.seq).collect::<Vec<_>>())
                .unwrap();
            let usage = store.usage().unwrap();
            assert_eq!(usage.pending_events, 6);
            assert!(usage.oldest_spooled_at_ms.is_some());
        }
        // A second open of the same file while the first is alive is refused; after it is
        // dropped, everything is still there.
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        assert!(matches!(
            Store::open(dir.path(), 1 << 20),
            Err(SpoolError::InUse(_))
        ));
        let (rest, _) = store.peek(100).unwrap();
        assert_eq!(
            ids(&rest),
            events[4..]
                .iter()
                .map(|e| e.id.as_u128())
                .collect::<Vec<_>>()
        );
        let sum: u64 = rest
            .iter()
            .map(|r| encode_record(r.spooled_at_ms, &r.event).len() as u64)
            .sum();
        assert_eq!(store.usage().unwrap().pending_bytes, sum);
    }

    #[test]
    fn the_bound_holds_under_both_policies() {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<_> = (0..20).map(event).collect();
        let one = encode_record(0, &events[0]).len() as u64;
        let store = Store::open(dir.path(), one * 5 + one / 2).unwrap();
        let out = store.append(&events[..8], FullPolicy::Block).unwrap();
        assert_eq!(out.stored, 5, "only five fit");
        assert_eq!(out.evicted, 0);
        let out = store
            .append(&events[8..10], FullPolicy::DropOldest)
            .unwrap();
        assert_eq!(
            out,
            Appended {
                stored: 2,
                evicted: 2
            }
        );
        let (left, _) = store.peek(100).unwrap();
        let expect: Vec<_> = [2, 3, 4, 8, 9]
            .iter()
            .map(|&i| events[i].id.as_u128())
            .collect();
        assert_eq!(ids(&left), expect, "the two oldest made room");
        assert!(store.usage().unwrap().pending_bytes <= store.max_bytes());
    }

    #[test]
    fn the_file_shrinks_when_reopened_after_a_drain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let size = || std::fs::metadata(&path).unwrap().len();
        let store = Store::open(dir.path(), u64::MAX).unwrap();
        // About 40 MB of events in, then all delivered.
        let big = event_about(&"word ".repeat(20_000));
        for _ in 0..40 {
            let batch = vec![Arc::clone(&big); 10];
            store.append(&batch, FullPolicy::Block).unwrap();
        }
        let (records, _) = store.peek(usize::MAX).unwrap();
        assert_eq!(records.len(), 400);
        store
            .ack(&records.iter().map(|r| r.seq).collect::<Vec<_>>())
            .unwrap();
        let left = event(1);
        store
            .append(&[Arc::clone(&left)], FullPolicy::Block)
            .unwrap();
        let high_water = size();
        assert!(high_water > 32 << 20, "{high_water}");
        drop(store);

        let store = Store::open(dir.path(), u64::MAX).unwrap();
        let after = size();
        assert!(after < high_water / 4, "{after} of {high_water}");
        // What was left is still there.
        let (records, _) = store.peek(10).unwrap();
        assert_eq!(ids(&records), [left.id.as_u128()]);
    }

    #[test]
    fn dead_letters_requeue_and_purge() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let events: Vec<_> = (0..6).map(event).collect();
        store.append(&events, FullPolicy::Block).unwrap();
        let (records, _) = store.peek(2).unwrap();
        store
            .dead_letter(&records.iter().map(|r| r.seq).collect::<Vec<_>>())
            .unwrap();
        let usage = store.usage().unwrap();
        assert_eq!((usage.pending_events, usage.dead_events), (4, 2));
        assert!(usage.dead_bytes > 0);
        assert_eq!(store.requeue_dead().unwrap(), 2);
        let (all, _) = store.peek(100).unwrap();
        assert_eq!(
            ids(&all),
            events.iter().map(|e| e.id.as_u128()).collect::<Vec<_>>()
        );
        assert_eq!(store.purge(true, true).unwrap(), (6, 0));
        assert_eq!(store.usage().unwrap(), Usage::default());
    }

    #[test]
    fn damaged_records_are_reported_not_fatal() {
        assert!(decode_record(b"short").unwrap_err().contains("too short"));
        assert!(
            decode_record(b"12345678{not json")
                .unwrap_err()
                .contains("not an event")
        );
        let e = event(1);
        let (at, back) = decode_record(&encode_record(42, &e)).unwrap();
        assert_eq!((at, back.id), (42, e.id));
    }
}
