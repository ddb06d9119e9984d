//! The broker connection of one `AmqpQueue`: opened lazily, shared by the publisher and
//! every consumer, and opened again (with the topology redeclared) whenever it is found
//! broken. This is a manual reconnect rather than lapin's automatic recovery: it never
//! gives up (lapin stops after its last backoff step), it also replaces a channel closed
//! by a channel-level error, and its behaviour is ours to test.

use super::topology::{self, Names};
use crate::ports::QueueError;
use crate::redact::redact_url;
use lapin::options::ConfirmSelectOptions;
use lapin::uri::AMQPUri;
use lapin::{Channel, Connection, ConnectionProperties};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long opening a connection (TCP, AMQP handshake, topology) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Heartbeat asked for when the URL does not say: a dead broker behind a silent network
/// is noticed within two intervals instead of RabbitMQ's default two minutes.
const DEFAULT_HEARTBEAT_SECS: u16 = 15;
/// After a failed connect, callers within this window get the same error without a new
/// attempt, so a crowd of publishers does not hammer a broker that is down.
const RETRY_GAP: Duration = Duration::from_millis(250);

/// An open connection with its publishing channel (in confirm mode).
pub(super) struct Session {
    pub connection: Connection,
    publisher: Mutex<Channel>,
}

impl Session {
    pub fn publisher(&self) -> Channel {
        self.publisher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn alive(&self) -> bool {
        self.connection.status().connected()
    }
}

#[derive(Default)]
struct State {
    session: Option<Arc<Session>>,
    last_failure: Option<(Instant, String)>,
}

pub(super) struct Link {
    uri: AMQPUri,
    /// The URL without its password, for logs and errors.
    shown: String,
    pub names: Names,
    pub delivery_limit: u32,
    state: tokio::sync::Mutex<State>,
}

impl Link {
    pub fn new(url: &str, names: Names, delivery_limit: u32) -> Result<Self, QueueError> {
        let shown = redact_url(url);
        let mut uri: AMQPUri = url
            .parse()
            .map_err(|e| QueueError::Fatal(format!("invalid AMQP URL {shown}: {e}")))?;
        uri.query.heartbeat.get_or_insert(DEFAULT_HEARTBEAT_SECS);
        Ok(Self {
            uri,
            shown,
            names,
            delivery_limit,
            state: tokio::sync::Mutex::new(State::default()),
        })
    }

    /// The current session, connecting first when there is none or it broke.
    pub async fn session(&self) -> Result<Arc<Session>, QueueError> {
        let mut state = self.state.lock().await;
        if let Some(session) = state.session.clone() {
            if session.alive() {
                if !session.publisher().status().connected() {
                    // Only the publishing channel died (a channel-level error): replace it
                    // and keep the connection, so consumers are not disturbed.
                    let channel = open_publisher(&session.connection).await?;
                    *session.publisher.lock().unwrap_or_else(|e| e.into_inner()) = channel;
                }
                return Ok(session);
            }
            tracing::warn!(broker = %self.shown, "broker connection lost; reconnecting");
            state.session = None;
        }
        if let Some((at, error)) = &state.last_failure
            && at.elapsed() < RETRY_GAP
        {
            return Err(QueueError::Unavailable(error.clone()));
        }
        match tokio::time::timeout(CONNECT_TIMEOUT, self.open()).await {
            Ok(Ok(session)) => {
                let session = Arc::new(session);
                state.session = Some(session.clone());
                state.last_failure = None;
                tracing::info!(broker = %self.shown, "connected to the broker");
                Ok(session)
            }
            Ok(Err(error)) => {
                state.last_failure = Some((Instant::now(), error.to_string()));
                Err(error)
            }
            Err(_) => {
                let error = format!(
                    "connecting to {} timed out after {CONNECT_TIMEOUT:?}",
                    self.shown
                );
                state.last_failure = Some((Instant::now(), error.clone()));
                Err(QueueError::Unavailable(error))
            }
        }
    }

    async fn open(&self) -> Result<Session, QueueError> {
        let properties = ConnectionProperties::default().with_connection_name("facefix".into());
        let connection = Connection::connect_uri(self.uri.clone(), properties)
            .await
            .map_err(|e| {
                QueueError::Unavailable(format!("cannot connect to {}: {e}", self.shown))
            })?;
        self.declare_on(&connection).await?;
        let publisher = open_publisher(&connection).await?;
        Ok(Session {
            connection,
            publisher: Mutex::new(publisher),
        })
    }

    /// Declares the topology on a short-lived channel of `connection` (a declare that fails
    /// closes its channel, so it must not be a channel anyone else uses).
    pub async fn declare_on(&self, connection: &Connection) -> Result<(), QueueError> {
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| topology::classify("opening a channel", e))?;
        let result = topology::declare(&channel, &self.names, self.delivery_limit).await;
        if channel.status().connected() {
            let _ = channel.close(200, "topology declared".into()).await;
        }
        result
    }

    /// Declares the topology again on the current connection (after a queue was deleted
    /// under us, which makes publishes unroutable).
    pub async fn redeclare(&self) {
        let result = match self.session().await {
            Ok(session) => self.declare_on(&session.connection).await,
            Err(e) => Err(e),
        };
        if let Err(error) = result {
            tracing::warn!(%error, "redeclaring the queue topology failed");
        }
    }

    /// Closes the connection (consumers end their channels first when dropped).
    pub async fn close(&self) {
        if let Some(session) = self.state.lock().await.session.take() {
            let _ = session.connection.close(200, "shutting down".into()).await;
        }
    }
}

async fn open_publisher(connection: &Connection) -> Result<Channel, QueueError> {
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| topology::classify("opening the publishing channel", e))?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| topology::classify("enabling publisher confirms", e))?;
    Ok(channel)
}

/// Exponential backoff for loops that retry forever.
pub(super) struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    pub fn new() -> Self {
        Self { next: Self::FIRST }
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        delay
    }
}
