//! Webhooks: `kbgap serve --webhook URL --webhook-secret S` tells a deployment tool or a chat
//! bridge when work appears, by POSTing signed JSON ([`sign`]).
//!
//! Two events: `catalog.missingKbs` after a catalog reload brings KBs machines miss (one
//! delivery per reload, id `catalog-<generation>`, the same on every replica so a receiver can
//! drop duplicates), and `machines.exploited` when a report leaves a machine exposed to an
//! exploited CVE it was not exposed to before (collected for a batch window, one delivery per
//! window, a machine reported twice in it merged).
//!
//! Nothing here may slow ingest: the hooks compute from evaluations the view already holds
//! and hand events to a bounded queue without waiting ([`tokio::sync::mpsc::Sender::try_send`]);
//! a full queue drops events and says so in the log. Two background tasks do the rest: one
//! batches events into deliveries, one POSTs them in order, retrying failures with exponential
//! backoff.

pub mod events;
pub mod sign;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

pub use events::{Exposed, MachineRef, MissingKb};

/// Where and how deliveries go.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The receiver's URL (http or https).
    pub url: String,
    /// The HMAC key.
    pub secret: String,
    /// How long `machines.exploited` events are collected into one delivery.
    pub batch_window: Duration,
    /// The wait before the first retry; each further retry doubles it, up to [`MAX_RETRY`].
    pub first_retry: Duration,
    /// Attempts per delivery, the first included.
    pub attempts: u32,
}

impl WebhookConfig {
    /// A config with the documented defaults: a 60 s batch window, retries after 2 s doubling
    /// up to 5 min, 8 attempts (about 8 minutes in all).
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            secret: secret.into(),
            batch_window: Duration::from_secs(60),
            first_retry: Duration::from_secs(2),
            attempts: 8,
        }
    }
}

/// The longest wait between two attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(300);
/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Events waiting to be batched, at most (a full queue drops new ones).
const EVENT_QUEUE: usize = 10_000;
/// Deliveries waiting to be sent, at most.
const DELIVERY_QUEUE: usize = 64;
/// Machines per `machines.exploited` delivery; a larger batch is split.
const MACHINES_PER_DELIVERY: usize = 1000;

/// Why the webhook could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not an http(s) URL.
    #[error("--webhook {url}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The secret is empty.
    #[error("--webhook-secret is empty: deliveries would be signed with an empty key")]
    EmptySecret,
    /// The HTTP client could not be built.
    #[error("building the webhook's HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

enum Event {
    Catalog(Delivery),
    Exposed(Exposed),
    /// Ends the batch window now; answered once everything before it was delivered or given up.
    Drain(oneshot::Sender<()>),
}

/// What the delivery task takes, in order.
enum Outgoing {
    Delivery(Delivery),
    /// Answered when every delivery before it is done.
    Done(oneshot::Sender<()>),
}

/// The handle the hooks use: cheap to clone, never waits.
#[derive(Clone)]
pub struct Webhook {
    events: mpsc::Sender<Event>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").finish_non_exhaustive()
    }
}

impl Webhook {
    /// Checks the config and spawns the batching and delivery tasks (on the current runtime).
    pub fn start(config: WebhookConfig) -> Result<Self, WebhookError> {
        let url = reqwest::Url::parse(&config.url)
            .map_err(|e| e.to_string())
            .and_then(|u| match u.scheme() {
                "http" | "https" => Ok(u),
                s => Err(format!("unsupported scheme {s:?}, expected http or https")),
            })
            .map_err(|reason| WebhookError::Url {
                url: config.url.clone(),
                reason,
            })?;
        if config.secret.is_empty() {
            return Err(WebhookError::EmptySecret);
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("kbgap/", env!("CARGO_PKG_VERSION")))
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .map_err(WebhookError::Client)?;
        let (events, events_rx) = mpsc::channel(EVENT_QUEUE);
        let (deliveries, deliveries_rx) = mpsc::channel(DELIVERY_QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let sender = Sender {
            client,
            url,
            config: config.clone(),
        };
        tokio::spawn(batch(
            events_rx,
            deliveries,
            config.batch_window,
            Arc::clone(&dropped),
        ));
        tokio::spawn(sender.run(deliveries_rx));
        Ok(Self { events, dropped })
    }

    /// Queues `catalog.missingKbs` for a reload to `generation` (nothing when `kbs` is empty).
    pub fn catalog_reloaded(&self, generation: i64, newest: Option<String>, kbs: Vec<MissingKb>) {
        if kbs.is_empty() {
            return;
        }
        let payload = CatalogPayload {
            event: CATALOG_EVENT,
            id: format!("catalog-{generation}"),
            created_at: now_rfc3339(),
            catalog: CatalogRef { generation, newest },
            kbs,
        };
        if let Some(d) = Delivery::of(CATALOG_EVENT, payload.id.clone(), &payload) {
            self.offer(Event::Catalog(d));
        }
    }

    /// Queues machines newly exposed to exploited CVEs, for the current batch window.
    pub fn machines_exposed(&self, exposed: Vec<Exposed>) {
        for e in exposed {
            self.offer(Event::Exposed(e));
        }
    }

    /// Sends what is waiting for its batch window now and waits, at most `within`, for every
    /// queued delivery to be delivered or given up: `serve` calls it when it stops, so events
    /// of its last minute are not lost. Says whether everything was done in time.
    pub async fn drain(&self, within: Duration) -> bool {
        let (done, finished) = oneshot::channel();
        let drained =
            async { self.events.send(Event::Drain(done)).await.is_ok() && finished.await.is_ok() };
        tokio::time::timeout(within, drained).await.unwrap_or(false)
    }

    fn offer(&self, event: Event) {
        if self.events.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `catalog.missingKbs`.
pub const CATALOG_EVENT: &str = "catalog.missingKbs";
/// `machines.exploited`.
pub const EXPOSED_EVENT: &str = "machines.exploited";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CatalogPayload {
    event: &'static str,
    id: String,
    created_at: String,
    catalog: CatalogRef,
    kbs: Vec<MissingKb>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CatalogRef {
    generation: i64,
    newest: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExposedPayload<'a> {
    event: &'static str,
    id: String,
    created_at: String,
    machines: &'a [Exposed],
}

/// One POST to make: its event, id and body (serialized once, signed per attempt).
#[derive(Debug, Clone)]
struct Delivery {
    event: &'static str,
    id: String,
    body: Vec<u8>,
}

impl Delivery {
    fn of(event: &'static str, id: String, payload: &impl Serialize) -> Option<Self> {
        match serde_json::to_vec(payload) {
            Ok(body) => Some(Self { event, id, body }),
            Err(e) => {
                tracing::error!("webhook {event} {id} not sent: cannot serialize it: {e}");
                None
            }
        }
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A random delivery id: 16 bytes in hex.
fn random_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Gathers events: a catalog delivery goes straight on, exposures wait for the window's end.
async fn batch(
    mut events: mpsc::Receiver<Event>,
    deliveries: mpsc::Sender<Outgoing>,
    window: Duration,
    dropped: Arc<AtomicU64>,
) {
    let mut waiting: BTreeMap<String, Exposed> = BTreeMap::new();
    let mut deadline: Option<Instant> = None;
    loop {
        let event = match deadline {
            Some(at) => tokio::select! {
                e = events.recv() => e,
                () = tokio::time::sleep_until(at) => {
                    flush(&mut waiting, &deliveries, &dropped);
                    deadline = None;
                    continue;
                }
            },
            None => events.recv().await,
        };
        match event {
            Some(Event::Catalog(d)) => hand_on(&deliveries, d, &dropped),
            Some(Event::Drain(done)) => {
                flush(&mut waiting, &deliveries, &dropped);
                deadline = None;
                // Waits for room: the drain is worth waiting for, and new events queue meanwhile.
                let _ = deliveries.send(Outgoing::Done(done)).await;
            }
            Some(Event::Exposed(e)) => {
                match waiting.get_mut(&e.id) {
                    Some(known) => known.merge(e),
                    None => {
                        waiting.insert(e.id.clone(), e);
                    }
                }
                deadline.get_or_insert_with(|| Instant::now() + window);
            }
            None => {
                flush(&mut waiting, &deliveries, &dropped);
                return;
            }
        }
    }
}

/// Turns the window's exposures into deliveries of at most [`MACHINES_PER_DELIVERY`] machines.
fn flush(
    waiting: &mut BTreeMap<String, Exposed>,
    deliveries: &mpsc::Sender<Outgoing>,
    dropped: &AtomicU64,
) {
    let lost = dropped.swap(0, Ordering::Relaxed);
    if lost > 0 {
        tracing::warn!("webhook: {lost} events dropped, the webhook queue was full");
    }
    let machines: Vec<Exposed> = std::mem::take(waiting).into_values().collect();
    for chunk in machines.chunks(MACHINES_PER_DELIVERY) {
        let payload = ExposedPayload {
            event: EXPOSED_EVENT,
            id: random_id(),
            created_at: now_rfc3339(),
            machines: chunk,
        };
        if let Some(d) = Delivery::of(EXPOSED_EVENT, payload.id.clone(), &payload) {
            hand_on(deliveries, d, dropped);
        }
    }
}

fn hand_on(deliveries: &mpsc::Sender<Outgoing>, d: Delivery, dropped: &AtomicU64) {
    if let Err(e) = deliveries.try_send(Outgoing::Delivery(d)) {
        let (mpsc::error::TrySendError::Full(Outgoing::Delivery(d))
        | mpsc::error::TrySendError::Closed(Outgoing::Delivery(d))) = e
        else {
            return;
        };
        dropped.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            "webhook {} {} dropped: {DELIVERY_QUEUE} deliveries are already waiting (is the receiver down?)",
            d.event,
            d.id
        );
    }
}

/// POSTs deliveries one at a time, in order.
struct Sender {
    client: reqwest::Client,
    url: reqwest::Url,
    config: WebhookConfig,
}

/// What one attempt came to.
enum Attempt {
    Delivered,
    /// Worth retrying (network error, timeout, 5xx, 408, 429).
    Retry(String),
    /// The receiver refused it for good (another 4xx).
    Refused(String),
}

impl Sender {
    async fn run(self, mut deliveries: mpsc::Receiver<Outgoing>) {
        while let Some(next) = deliveries.recv().await {
            match next {
                Outgoing::Delivery(d) => self.deliver(&d).await,
                Outgoing::Done(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    async fn deliver(&self, d: &Delivery) {
        let mut wait = self.config.first_retry;
        for attempt in 1..=self.config.attempts.max(1) {
            match self.attempt(d).await {
                Attempt::Delivered => {
                    tracing::info!("webhook {} {} delivered (attempt {attempt})", d.event, d.id);
                    return;
                }
                Attempt::Refused(why) => {
                    tracing::error!(
                        "webhook {} {} refused by the receiver: {why}; not retried",
                        d.event,
                        d.id
                    );
                    return;
                }
                Attempt::Retry(why) if attempt < self.config.attempts => {
                    tracing::warn!(
                        "webhook {} {} attempt {attempt} failed: {why}; retrying in {}s",
                        d.event,
                        d.id,
                        wait.as_secs_f32()
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_RETRY);
                }
                Attempt::Retry(why) => {
                    tracing::error!(
                        "webhook {} {} given up after {attempt} attempts: {why}",
                        d.event,
                        d.id
                    );
                }
            }
        }
    }

    async fn attempt(&self, d: &Delivery) -> Attempt {
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign::sign(self.config.secret.as_bytes(), timestamp, &d.body);
        let sent = (self.client.post(self.url.clone()))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(sign::EVENT_HEADER, d.event)
            .header(sign::DELIVERY_HEADER, &d.id)
            .header(sign::TIMESTAMP_HEADER, timestamp.to_string())
            .header(sign::SIGNATURE_HEADER, signature)
            .body(d.body.clone())
            .send()
            .await;
        match sent {
            Err(e) => Attempt::Retry(error_chain(&e)),
            Ok(r) if r.status().is_success() => Attempt::Delivered,
            Ok(r) => {
                let s = r.status();
                if s.is_server_error() || s.as_u16() == 408 || s.as_u16() == 429 {
                    Attempt::Retry(format!("HTTP {s}"))
                } else {
                    Attempt::Refused(format!("HTTP {s}"))
                }
            }
        }
    }
}

fn error_chain(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
