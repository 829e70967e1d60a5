//! Webhook sink tests against an in-process endpoint (`WebhookReceiver`).

// Delivery, retries, 410, redirects, filtering, configuration errors.
mod delivery;
// Golden files for the payload and signature.
mod golden;
