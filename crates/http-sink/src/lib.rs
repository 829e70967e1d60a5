//! What the HTTP sinks (webhook, Splunk HEC, Elasticsearch, Splunk SOAR, Grafana) share, so that
//! each of them holds only its protocol: the endpoint check, a client that never follows
//! redirects, and one way to send a request and read the reply (timeouts and transport errors
//! mapped to [`SinkError`], `Retry-After` kept for the pipeline).

use std::time::Duration;

use llm_security_core::SinkError;
use llm_security_core::http::classify_status;

pub use reqwest::{Client, RequestBuilder, Url};

/// Parses `endpoint` as an `http` or `https` URL with a host; the error says why not.
pub fn parse_endpoint(endpoint: &str) -> Result<Url, String> {
    let url = Url::parse(endpoint).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("expected an http(s) URL with a host".into());
    }
    Ok(url)
}

/// `base` with `path` (absolute, e.g. `/_bulk`) in place of its path.
pub fn join(base: &Url, path: &str) -> Result<Url, String> {
    base.join(path).map_err(|e| e.to_string())
}

/// A client with a per-request `timeout` that never follows redirects (a redirect is answered
/// as what it is, so events never go where the configuration did not say).
pub fn client(timeout: Duration) -> Result<Client, String> {
    Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("llm-security/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// What the destination answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The `Retry-After` header, as sent.
    pub retry_after: Option<String>,
    /// The body (empty when it could not be read).
    pub body: String,
}

impl Reply {
    /// `Ok` for 2xx; otherwise the [`SinkError`] the status means (retriable for 408, 429 and
    /// 5xx, with `Retry-After`; permanent for other statuses).
    pub fn check(&self) -> Result<(), SinkError> {
        classify_status(self.status, self.retry_after.as_deref(), &self.body)
    }

    /// Whether the status refuses the one item sent rather than the endpoint: its body is bad
    /// for the receiver (400), too large (413) or not processable (422). The webhook sink,
    /// which posts one event per request, reports such an event as refused and goes on with
    /// the batch; 401, 403, 404 and the like concern every event and stop it. (The SOAR and
    /// Grafana sinks do not use it: there a 400 usually means a setting, such as an unknown
    /// label, that every event would hit.)
    pub fn refuses_only_this_item(&self) -> bool {
        matches!(self.status, 400 | 413 | 422)
    }
}

/// Sends `request` and reads the reply. A timeout becomes [`SinkError::Timeout`] with
/// `timeout`; any other failure to get an answer is a retriable transport error.
pub async fn send(request: RequestBuilder, timeout: Duration) -> Result<Reply, SinkError> {
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            SinkError::Timeout(timeout)
        } else {
            SinkError::transport(e.to_string())
        }
    })?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.text().await.unwrap_or_default();
    Ok(Reply {
        status,
        retry_after,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_with_a_host() {
        assert!(parse_endpoint("https://splunk.example:8088").is_ok());
        assert!(parse_endpoint("ftp://x").unwrap_err().contains("http(s)"));
        assert!(parse_endpoint("not a url").is_err());
        let base = parse_endpoint("http://h:1/ignored").unwrap();
        assert_eq!(join(&base, "/_bulk").unwrap().as_str(), "http://h:1/_bulk");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_retriable_transport_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = client(Duration::from_secs(2)).unwrap();
        let err = send(
            c.get(format!("http://127.0.0.1:{port}/")),
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
        assert!(
            err.is_retriable() && matches!(err, SinkError::Transport(_)),
            "{err}"
        );
    }

    #[test]
    fn replies_map_statuses() {
        let reply = |status| Reply {
            status,
            retry_after: Some("3".into()),
            body: String::new(),
        };
        assert!(reply(204).check().is_ok());
        let busy = reply(503).check().unwrap_err();
        assert!(busy.is_retriable());
        assert_eq!(busy.retry_after(), Some(Duration::from_secs(3)));
        assert!(!reply(400).check().unwrap_err().is_retriable());
    }
}
