//! Health check: a passive declaration of the exchange on a live connection.

use lapin::ExchangeKind;
use lapin::options::ExchangeDeclareOptions;
use lapin::types::FieldTable;
use llm_security_core::SinkError;

use crate::sink::RabbitSink;

impl RabbitSink {
    pub(crate) async fn check(&self) -> Result<(), SinkError> {
        let channel = self.channel().await?;
        let result = channel
            .exchange_declare(
                self.config.exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    passive: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await;
        if let Err(e) = result {
            self.forget().await;
            return Err(SinkError::transport(e));
        }
        Ok(())
    }
}
