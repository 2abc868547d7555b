//! The public gRPC API: thin services over the ledger, plus gRPC health and reflection (v1 and
//! v1alpha) so standard tools work. Message sizes are capped at
//! [`consent_proto::limits::MAX_GRPC_MESSAGE_BYTES`]. Store reads run on blocking threads, not
//! on the async ones: what the API hands over for a collector is bounded node-wide and per
//! collector, and cancelled with its request; calls that answer anyone hand their short reads
//! over as they come ([`blocking`]). Watch streams are bounded per collector and per node, end
//! with their session and stop waiting for a client that does not read ([`watch`]).
//!
//! What a caller without a session can make the node spend is bounded per source address and on
//! the node: connections, and the time to start HTTP/2 on one ([`connections`]); HTTP/2 streams
//! per connection ([`streams_per_connection`]); `Authenticate` calls and `GetLog`/`GetFeed`
//! streams ([`limits`]); the blocking threads of public reads ([`blocking`]), which the
//! `Consultations` calls use too (one page of at most [`consultations::MAX_PAGE_SIZE`]
//! consultations, scanning at most `ledger::consultations::MAX_SCANNED` rows).
//!
//! With `[tls]` every connection is TLS (rustls), its certificate reloaded without a restart
//! ([`tls`]); the handshakes run per connection in [`connections`].

pub(crate) mod auth;
pub(crate) mod blocking;
mod connections;
pub(crate) mod consent;
pub(crate) mod consultations;
pub(crate) mod error;
pub(crate) mod evidence;
pub(crate) mod ledger;
pub(crate) mod limits;
pub(crate) mod log;
pub(crate) mod node;
pub(crate) mod receipts;
pub(crate) mod tls;
pub(crate) mod watch;

/// The machine-readable reasons the node attaches to refusals and stream ends (`consent-reason`
/// metadata), and the watch-stream limit clients can plan for.
pub use self::error::{
    CORRUPT_STORE, INTERNAL_ERROR, KEY_CHANGED, NODE_FULL, NODE_READ_STREAMS_FULL, NOT_READING,
    REASON_KEY, SESSION_EXPIRED, STORE_ERROR, TOO_MANY_AUTHENTICATIONS, TOO_MANY_READ_STREAMS,
    TOO_MANY_STREAMS,
};
/// The limits per source address a caller without a session meets (see [`limits`]).
pub use self::limits::{AUTH_BURST, AUTH_PER_SECOND, MAX_READ_STREAMS, STREAMS_PER_SOURCE};
pub use self::tls::{ServerTls, TlsError};
pub use self::watch::MAX_STREAMS_PER_COLLECTOR;

use std::net::IpAddr;
use std::time::Duration;

use consent_proto::keys::SecretKey;
use consent_proto::limits::MAX_GRPC_MESSAGE_BYTES;
use consent_proto::pb;
use tokio::net::TcpListener;

use crate::ledger::Ledger;

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Concurrent requests per connection.
    pub concurrency_per_connection: usize,
    /// Unary request time limit.
    pub request_timeout: Duration,
    /// At shutdown, how long calls in flight may finish before their connections are dropped.
    pub drain: Duration,
    /// Connections open at once on the node; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Connections one source address (an IPv6 /64) may have open at once.
    pub max_connections_per_address: usize,
    /// Reverse proxies whose calls are charged to the client they name in `x-forwarded-for`,
    /// and whose connections count in `max_connections` only.
    pub trusted_proxies: Vec<IpAddr>,
    /// TLS on every connection (`None`: plain text).
    pub tls: Option<ServerTls>,
}

/// How long a new gRPC connection has to send the HTTP/2 connection preface before it is closed.
pub const PREFACE_DEADLINE: Duration = Duration::from_secs(10);

/// HTTP/2 streams a client may have open at once on one connection (announced as
/// `SETTINGS_MAX_CONCURRENT_STREAMS`, which tonic leaves unlimited): twice the calls it may have
/// in flight, since a stream being answered holds a call's place only until its response starts.
pub fn streams_per_connection(concurrency_per_connection: usize) -> u32 {
    u32::try_from(concurrency_per_connection.saturating_mul(2)).unwrap_or(u32::MAX)
}

/// Serves the API on `listener` until `shutdown` is cancelled, then ends watch streams and
/// drains in-flight calls.
pub async fn serve(
    listener: TcpListener,
    ledger: Ledger,
    node_key: SecretKey,
    info: node::NodeInfo,
    checkpoints: crate::log::checkpoints::Checkpoints,
    config: ServeConfig,
    stop: Stop,
) -> Result<(), ServeError> {
    let Stop {
        accepting: shutdown,
        tasks,
    } = stop;
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<pb::ledger_server::LedgerServer<ledger::LedgerService>>()
        .await;
    health
        .set_serving::<pb::consent_server::ConsentServer<consent::ConsentService>>()
        .await;
    health
        .set_serving::<pb::node_server::NodeServer<node::NodeService>>()
        .await;
    health
        .set_serving::<pb::log_server::LogServer<log::LogService>>()
        .await;
    health
        .set_serving::<pb::consultations_server::ConsultationsServer<
            consultations::ConsultationsService,
        >>()
        .await;

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1();
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha();
    let reflection_v1 = reflection_v1.map_err(ServeError::Reflection)?;
    let reflection_v1alpha = reflection_v1alpha.map_err(ServeError::Reflection)?;

    let sessions = auth::Sessions::new(&node_key);
    let proxies = limits::Proxies::new(&config.trusted_proxies);
    let sources = limits::Sources::new(proxies.clone());
    let decision_key = node_key.clone();
    let group_signer =
        receipts::GroupSigner::start(node_key.clone()).map_err(ServeError::Signer)?;
    let ledger_service = pb::ledger_server::LedgerServer::new(ledger::LedgerService::new(
        ledger.clone(),
        node_key,
        group_signer.clone(),
        sources.clone(),
    ))
    .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_GRPC_MESSAGE_BYTES);
    let consent_service = pb::consent_server::ConsentServer::new(consent::ConsentService::new(
        ledger.clone(),
        sessions,
        decision_key,
        group_signer,
        checkpoints.clone(),
        shutdown.clone(),
        sources,
    ))
    .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_GRPC_MESSAGE_BYTES);
    let log_service =
        pb::log_server::LogServer::new(log::LogService::new(ledger.clone(), checkpoints))
            .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES);
    let consultations_service = pb::consultations_server::ConsultationsServer::new(
        consultations::ConsultationsService::new(ledger.clone()),
    )
    .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_GRPC_MESSAGE_BYTES);
    let node_service = pb::node_server::NodeServer::new(node::NodeService::new(ledger, info))
        .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES);

    let close = tokio_util::sync::CancellationToken::new();
    let connection_limits = connections::ConnectionLimits {
        max_total: config.max_connections,
        max_per_address: config.max_connections_per_address,
        preface_deadline: PREFACE_DEADLINE,
        proxies,
    };
    let router = tonic::transport::Server::builder()
        .concurrency_limit_per_connection(config.concurrency_per_connection)
        .max_concurrent_streams(streams_per_connection(config.concurrency_per_connection))
        .timeout(config.request_timeout)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(ledger_service)
        .add_service(consent_service)
        .add_service(node_service)
        .add_service(log_service)
        .add_service(consultations_service);
    let stopped = shutdown.clone().cancelled_owned();
    // One server either way; the connections it takes differ (plain TCP, or TLS over it).
    let serving = match config.tls {
        None => futures::future::Either::Left(router.serve_with_incoming_shutdown(
            connections::incoming(listener, tasks, close.clone(), connection_limits),
            stopped,
        )),
        Some(tls) => futures::future::Either::Right(router.serve_with_incoming_shutdown(
            connections::incoming_tls(
                listener,
                tasks,
                close.clone(),
                connection_limits,
                tls.acceptor(),
            ),
            stopped,
        )),
    };
    tokio::pin!(serving);
    tokio::select! {
        served = &mut serving => return served.map_err(ServeError::Transport),
        () = shutdown.cancelled() => {}
    }
    // Shutting down: no new connections; calls in flight get `drain` to finish. Connections
    // still open then (a client that stopped reading, or stopped answering pings) are closed.
    match tokio::time::timeout(config.drain, &mut serving).await {
        Ok(served) => served.map_err(ServeError::Transport),
        Err(_) => {
            tracing::warn!(
                drain = ?config.drain,
                "gRPC connections still open at the end of the drain time; closing them"
            );
            close.cancel();
            serving.await.map_err(ServeError::Transport)
        }
    }
}

/// How the server learns that the node stops, and where it counts what must end before the
/// store closes.
#[derive(Clone, Debug)]
pub struct Stop {
    /// Cancelled when the node stops: no new connections; calls and streams in flight get
    /// [`ServeConfig::drain`] to finish, then their connections are closed.
    pub accepting: tokio_util::sync::CancellationToken,
    /// Counts every open connection (and what the services start) until it ends.
    pub tasks: tokio_util::task::TaskTracker,
}

/// The server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The embedded descriptor set does not load (a build defect).
    #[error("gRPC reflection cannot load the embedded descriptors: {0}")]
    Reflection(#[source] tonic_reflection::server::Error),
    /// The transport failed.
    #[error("gRPC server failed: {0}")]
    Transport(#[source] tonic::transport::Error),
    /// The thread that signs receipts in groups could not start.
    #[error("cannot start the receipt-signing thread: {0}")]
    Signer(#[source] std::io::Error),
}
