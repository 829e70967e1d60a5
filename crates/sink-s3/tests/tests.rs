//! S3 sink tests.

use llm_security_sink_s3::{S3Config, S3Error, S3Sink, SecurityReport, objects};
use llm_security_testkit::sample_event;

#[cfg(feature = "integration-tests")]
mod s3;

#[test]
fn keys_are_partitioned_by_hour_and_derived_from_the_events() {
    let events: Vec<_> = (0..4).map(sample_event).collect();
    let refs: Vec<_> = events.iter().collect();
    let objs = objects("p", &refs, true);
    assert_eq!(objs.len(), 1);
    assert_eq!(
        objs[0].key,
        format!("p/dt=2026-11-26/hour=12/{}-4.ndjson.gz", events[0].id)
    );
    assert_eq!(objs[0].ndjson.iter().filter(|&&b| b == b'\n').count(), 4);
    assert_eq!(
        objects("p", &refs, true),
        objs,
        "the same batch always gets the same key"
    );
}

#[test]
fn the_daily_report_counts_and_averages() {
    let events: Vec<_> = (0..10).map(sample_event).collect();
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    let r = SecurityReport::build(date, &events);
    assert_eq!((r.total, r.secure, r.threats), (10, 5, 5));
    assert_eq!(r.by_kind.get("prompt_injection"), Some(&5));
    let expected = events.iter().map(|e| f64::from(e.confidence)).sum::<f64>() / 10.0;
    assert!((r.average_confidence - expected).abs() < 1e-9);
    let other_day = SecurityReport::build(date.succ_opt().unwrap(), &events);
    assert_eq!(other_day.total, 0);
}

#[test]
fn bad_configuration_is_a_clear_error() {
    assert_eq!(
        S3Sink::new(S3Config::new("", "eu-west-1", "a", "b")).unwrap_err(),
        S3Error::Config("the bucket is empty".into())
    );
    assert!(
        S3Sink::new(S3Config::new("b", "eu-west-1", "a", "b").with_endpoint("localhost:9000"))
            .is_err()
    );
    assert!(
        !format!("{:?}", S3Config::new("b", "r", "AKIAEXAMPLE", "secret!")).contains("secret!")
    );
}
