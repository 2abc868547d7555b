//! Logging: human-readable by default, JSON lines by flag; the filter comes from the config
//! (or `RUST_LOG`, which wins when set).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Log targets kept quieter than the configured level.
const QUIET: &str = "libp2p_kad::behaviour=error";

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The configured level (filter) does not parse.
    #[error("invalid log level {level:?}: {source}")]
    Level {
        /// The level as configured.
        level: String,
        /// Why.
        source: tracing_subscriber::filter::ParseError,
    },
    /// A global subscriber is installed already.
    #[error("{0}")]
    Install(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Installs the global subscriber. Returns an error if one is installed already.
pub fn init(format: LogFormat, level: &str) -> Result<(), LogError> {
    // Kademlia warns "Failed to trigger bootstrap: No known peers" half a second after a node
    // with no peers starts listening (and again whenever it has none): that is the normal state
    // of a lone node, not something to act on. Its errors still show. RUST_LOG overrides all.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{level},{QUIET}")))
        .map_err(|source| LogError::Level {
            level: level.to_string(),
            source,
        })?;
    // Colours only on a terminal: a log file or journald must not receive escape codes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    }
    .map_err(LogError::Install)
}
