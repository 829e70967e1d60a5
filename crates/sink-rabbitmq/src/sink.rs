//! The sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use llm_security_core::{DeliveryReport, EventSink, SecurityEvent, SinkError};
use tokio::sync::Mutex;

use crate::config::{RabbitConfig, RabbitError, redact_uri};
use crate::encoder::{properties, routing_key};

/// Publishes events to a RabbitMQ topic exchange.
pub struct RabbitSink {
    pub(crate) config: RabbitConfig,
    link: Mutex<Option<(Connection, Channel)>>,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for RabbitSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitSink")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Opens a connection and a confirming channel, and declares the exchange.
async fn open(config: &RabbitConfig) -> Result<(Connection, Channel), String> {
    let connect = Connection::connect(&config.uri, ConnectionProperties::default());
    let connection = tokio::time::timeout(config.connect_timeout, connect)
        .await
        .map_err(|_| format!("no answer within {:?}", config.connect_timeout))?
        .map_err(|e| e.to_string())?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| e.to_string())?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    channel
        .exchange_declare(
            config.exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok((connection, channel))
}

impl RabbitSink {
    /// Connects and declares the exchange. Fails with a clear error on a bad URI, an
    /// unreachable broker, wrong credentials, or an exchange of another type.
    pub async fn connect(config: RabbitConfig) -> Result<Self, RabbitError> {
        config.validate()?;
        let link = open(&config)
            .await
            .map_err(|e| RabbitError::Connect(format!("{}: {e}", redact_uri(&config.uri))))?;
        Ok(Self {
            config,
            link: Mutex::new(Some(link)),
            shut_down: AtomicBool::new(false),
        })
    }

    /// The live channel, reconnecting when the connection was lost.
    pub(crate) async fn channel(&self) -> Result<Channel, SinkError> {
        let mut link = self.link.lock().await;
        if let Some((connection, channel)) = link.as_ref()
            && connection.status().connected()
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        *link = None;
        let (connection, channel) = open(&self.config).await.map_err(SinkError::transport)?;
        tracing::info!(exchange = %self.config.exchange, "Connected to RabbitMQ.");
        *link = Some((connection, channel.clone()));
        Ok(channel)
    }

    /// Drops the connection so that the next call reconnects.
    pub(crate) async fn forget(&self) {
        if let Some((connection, _)) = self.link.lock().await.take() {
            let _ = connection.close(0, "reconnecting".into()).await;
        }
    }
}

#[async_trait]
impl EventSink for RabbitSink {
    fn name(&self) -> &str {
        "rabbitmq"
    }

    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        let channel = self.channel().await?;
        let mut confirms = Vec::with_capacity(batch.len());
        for event in batch {
            let body = serde_json::to_vec(&**event).map_err(SinkError::transport)?;
            let published = channel
                .basic_publish(
                    self.config.exchange.as_str().into(),
                    routing_key(event).into(),
                    BasicPublishOptions::default(),
                    &body,
                    properties(event),
                )
                .await;
            match published {
                Ok(confirm) => confirms.push(confirm),
                Err(e) => {
                    self.forget().await;
                    return Err(SinkError::transport(e));
                }
            }
        }
        let mut nacked = 0usize;
        for confirm in confirms {
            match confirm.await {
                Ok(Confirmation::Ack(_) | Confirmation::NotRequested) => {}
                Ok(Confirmation::Nack(_)) => nacked += 1,
                Err(e) => {
                    self.forget().await;
                    return Err(SinkError::transport(e));
                }
            }
        }
        if nacked > 0 {
            return Err(SinkError::retriable(format!(
                "the broker refused {nacked} of {} messages (nack)",
                batch.len()
            )));
        }
        Ok(DeliveryReport::delivered(batch.len()))
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        self.check().await
    }

    async fn shutdown(&self, _timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        self.forget().await;
        Ok(())
    }
}
