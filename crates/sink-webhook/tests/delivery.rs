//! Delivery through the pipeline to a recording endpoint.

use std::sync::Arc;
use std::time::Duration;

use llm_security_core::{EventSink, EventType, Pipeline, RetryConfig, SinkError, SinkOptions};
use llm_security_sink_webhook::{Verifier, VerifyError, WebhookConfig, WebhookError, WebhookSink};
use llm_security_testkit::{Failure, Received, WebhookReceiver, sample_event};

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const NEXT_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn options() -> SinkOptions {
    let mut o = WebhookSink::recommended_options();
    o.retry = RetryConfig {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(2),
        max_retries: 5,
    };
    o.batch.timeout = Duration::from_millis(10);
    o
}

fn sink(url: &str) -> WebhookSink {
    WebhookSink::new(
        WebhookConfig::new()
            .with_url(url)
            .with_secret(SECRET)
            .with_secret(NEXT_SECRET),
    )
    .unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn verify(verifier: &Verifier, r: &Received) -> Result<(), VerifyError> {
    verifier.verify(|name| r.headers.get(name).cloned(), &r.body, now())
}

#[tokio::test]
async fn delivers_exactly_n_signed_events() {
    let hook = WebhookReceiver::start().await;
    let pipeline = Pipeline::builder()
        .sink_with(sink(&format!("{}/hook", hook.url())), options())
        .build()
        .unwrap();
    let events: Vec<_> = (0..20).map(sample_event).collect();
    for e in &events {
        pipeline.emit(e.clone());
    }
    pipeline.shutdown(Duration::from_secs(10)).await;
    let received = hook.requests();
    assert_eq!(received.len(), 20);
    // Either key verifies (rotation), and each message verifies once (replay protection).
    let old_key = Verifier::new(&[SECRET]).unwrap();
    let new_key = Verifier::new(&[NEXT_SECRET]).unwrap();
    for (r, e) in received.iter().zip(&events) {
        assert_eq!(verify(&old_key, r), Ok(()));
        assert_eq!(verify(&new_key, r), Ok(()));
        assert!(matches!(verify(&old_key, r), Err(VerifyError::Replayed(_))));
        assert_eq!(r.headers["webhook-id"], format!("msg_{}", e.id.simple()));
        assert_eq!(r.headers["webhook-signature"].split(' ').count(), 2);
        assert_eq!(r.items[0]["type"], e.event_type.as_str());
        assert_eq!(r.items[0]["data"]["id"], e.id.to_string());
    }
    assert_eq!(pipeline.stats()[0].delivered, 20);
}

#[tokio::test]
async fn a_tampered_body_fails_verification() {
    let hook = WebhookReceiver::start().await;
    sink(&hook.url())
        .send_batch(&[Arc::new(sample_event(2))])
        .await
        .unwrap();
    let mut r = hook.requests().remove(0);
    r.body = String::from_utf8(r.body)
        .unwrap()
        .replace("threat.detected", "analysis.completed")
        .into_bytes();
    assert_eq!(
        verify(&Verifier::new(&[SECRET]).unwrap(), &r),
        Err(VerifyError::InvalidSignature)
    );
}

#[tokio::test]
async fn retries_503_and_429_honouring_retry_after() {
    let hook = WebhookReceiver::start().await;
    hook.fail_next([
        Failure::status(503, "busy"),
        Failure::status(429, "slow down").retry_after("1"),
    ]);
    let pipeline = Pipeline::builder()
        .sink_with(sink(&hook.url()), options())
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    pipeline.emit(sample_event(4));
    pipeline.shutdown(Duration::from_secs(10)).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(hook.attempts(), 3);
    assert_eq!(hook.requests().len(), 1);
    let stats = &pipeline.stats()[0];
    assert_eq!((stats.delivered, stats.retried, stats.failed), (1, 2, 0));
}

#[tokio::test]
async fn never_retries_other_4xx() {
    let hook = WebhookReceiver::start().await;
    hook.fail_next([Failure::status(400, "bad payload")]);
    let pipeline = Pipeline::builder()
        .sink_with(sink(&hook.url()), options())
        .build()
        .unwrap();
    pipeline.emit(sample_event(6));
    pipeline.shutdown(Duration::from_secs(10)).await;
    assert_eq!(hook.attempts(), 1);
    let stats = &pipeline.stats()[0];
    assert_eq!((stats.delivered, stats.retried, stats.failed), (0, 0, 1));
}

#[tokio::test]
async fn gone_disables_the_endpoint() {
    let hook = WebhookReceiver::start().await;
    hook.fail_next([Failure::status(410, "gone")]);
    let sink = sink(&hook.url());
    let err = sink
        .send_batch(&[Arc::new(sample_event(8))])
        .await
        .unwrap_err();
    assert!(!err.is_retriable() && sink.is_disabled());
    assert!(
        sink.send_batch(&[Arc::new(sample_event(10))])
            .await
            .is_err()
    );
    assert!(sink.healthcheck().await.is_err());
    assert_eq!(
        hook.attempts(),
        1,
        "a disabled endpoint is not called again"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let hook = WebhookReceiver::start().await;
    let target = WebhookReceiver::start().await;
    hook.fail_next([Failure::status(307, "").location(&target.url())]);
    let err = sink(&hook.url())
        .send_batch(&[Arc::new(sample_event(12))])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SinkError::Rejected {
                retriable: false,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(target.attempts(), 0);
}

#[tokio::test]
async fn only_selected_event_types_are_sent() {
    let hook = WebhookReceiver::start().await;
    let config = WebhookConfig::new()
        .with_url(hook.url())
        .with_secret(SECRET)
        .with_events([EventType::ThreatDetected]);
    let sink = WebhookSink::new(config).unwrap();
    let batch: Vec<_> = (0..6).map(|n| Arc::new(sample_event(n))).collect();
    let report = sink.send_batch(&batch).await.unwrap();
    assert_eq!(report.delivered, 3);
    assert!(hook.items().iter().all(|i| i["type"] == "threat.detected"));
}

#[tokio::test]
async fn bad_configuration_is_a_clear_error() {
    let e = WebhookSink::new(WebhookConfig::new().with_url("not a url")).unwrap_err();
    assert!(matches!(e, WebhookError::Url { .. }) && e.to_string().contains("not a url"));
    let e = WebhookSink::new(WebhookConfig::new().with_url("ftp://x.example/")).unwrap_err();
    assert!(e.to_string().contains("http(s)"));
    let e = WebhookSink::new(
        WebhookConfig::new()
            .with_url("https://x.example/")
            .with_secret("whsec_short"),
    )
    .unwrap_err();
    assert!(matches!(e, WebhookError::Secret(_)));
    let debug = format!("{:?}", WebhookConfig::new().with_secret(SECRET));
    assert!(!debug.contains("C2FVs"), "{debug}");
    // Nothing listens on this port: a transport error, retriable.
    let dead = sink("http://127.0.0.1:9/");
    let err = dead
        .send_batch(&[Arc::new(sample_event(0))])
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "{err}");
    assert!(dead.healthcheck().await.is_err());
}

#[tokio::test]
async fn an_event_the_endpoint_refuses_does_not_stop_the_batch() {
    let hook = WebhookReceiver::start().await;
    // The first event is too large for this endpoint; the other two are taken.
    hook.fail_next([Failure::status(413, "payload too large")]);
    let sink = sink(&hook.url());
    let batch: Vec<_> = (0..3).map(|n| Arc::new(sample_event(n))).collect();
    let report = sink.send_batch(&batch).await.unwrap();
    assert_eq!((report.delivered, report.rejected), (2, 1));
    assert_eq!(report.rejected_indices, [0]);
    let ids: Vec<_> = hook
        .requests()
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["data"]["id"].clone()
        })
        .collect();
    assert_eq!(
        ids,
        [batch[1].id.to_string(), batch[2].id.to_string()].map(serde_json::Value::from)
    );

    // A refusal of the endpoint itself (401) still stops the batch.
    hook.fail_next([Failure::status(401, "bad signature")]);
    let err = sink.send_batch(&batch).await.unwrap_err();
    assert!(!err.is_retriable(), "{err}");
    assert_eq!(hook.attempts(), 4);
}
