//! Node configuration: a TOML file plus command-line flags. `Config::default()` is a working
//! local development setup. Precedence: flag > environment (`CONSENT_DATA_DIR`) > file > default.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use consent_proto::ids::{FeedId, TypedFeedId};
use consent_proto::vocab::Role;
use serde::{Deserialize, Serialize};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Everything a node needs to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the store and the node key live.
    pub data_dir: PathBuf,
    /// gRPC listen address. Loopback by default; any other address needs `[tls]` (or
    /// `insecure_plaintext`).
    pub grpc_listen: SocketAddr,
    /// Serve gRPC in plain text on a non-loopback address (`--insecure-plaintext`): without it
    /// the node refuses to start there unless `[tls]` is set, since session tokens would cross
    /// the network readable. For a network whose every link the operator trusts.
    #[serde(default)]
    pub insecure_plaintext: bool,
    /// Network genesis file; none means the built-in development network.
    pub genesis: Option<PathBuf>,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter (tracing `EnvFilter` syntax), e.g. "info" or "consent_node=debug".
    pub log_level: String,
    /// Write path.
    pub ledger: LedgerSection,
    /// gRPC server.
    pub grpc: GrpcSection,
    /// Storage engine.
    pub store: StoreSection,
    /// Peer-to-peer replication.
    pub p2p: P2pSection,
    /// Prometheus metrics.
    pub metrics: MetricsSection,
    /// The public transparency site.
    pub transparency: TransparencySection,
    /// Admin calls (on the metrics listener).
    pub admin: AdminSection,
    /// TLS on the gRPC listener.
    pub tls: TlsSection,
    /// The node's clock: the system clock, unless a test hands the node a manual one to move.
    /// Not part of the file.
    #[serde(skip)]
    pub clock: crate::clock::Clock,
}

/// `[tls]`: TLS on the gRPC listener (rustls). With `cert` and `key` every gRPC connection is
/// TLS; the files are read again on SIGHUP and when they change, so a renewed certificate is
/// served without a restart.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// The node's certificate chain, PEM: its own certificate first, then the intermediates.
    pub cert: Option<PathBuf>,
    /// The certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// CA certificates, PEM, whose client certificates the node accepts (mutual TLS). Read
    /// again when the file changes (new connections are checked against the new CAs).
    pub client_ca: Option<PathBuf>,
    /// Whether a client must present a certificate from `client_ca`: "none" (the default,
    /// without `client_ca`), "optional" or "required" (with it).
    pub client_auth: ClientAuth,
    /// Collector ids (`col1…`): when set (with `client_auth = "required"`), only client
    /// certificates naming one of them (URI `urn:consent-ledger:collector:col1…`) complete the
    /// handshake. At most [`MAX_TLS_COLLECTORS`].
    pub collectors: Vec<String>,
}

/// Most collectors `[tls] collectors` lists.
pub const MAX_TLS_COLLECTORS: usize = 10_000;

/// Whether gRPC clients present certificates (`[tls] client_auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// No client certificates are asked for.
    #[default]
    None,
    /// A client may present a certificate from `client_ca`; one that does not still connects.
    Optional,
    /// A client must present a certificate from `client_ca`, or its connection is refused.
    Required,
}

impl TlsSection {
    /// Whether gRPC is served over TLS (`cert` and `key` are both set).
    pub fn enabled(&self) -> bool {
        self.cert.is_some() && self.key.is_some()
    }

    /// Checks that the keys go together.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |why: &str| Err(ConfigError::Invalid(why.into()));
        if self.cert.is_some() != self.key.is_some() {
            return invalid(
                "tls.cert and tls.key go together: set both (gRPC over TLS) or neither (plain \
                 text, on loopback only)",
            );
        }
        match (&self.client_ca, self.client_auth) {
            (Some(_), _) if !self.enabled() => {
                invalid("tls.client_ca needs tls.cert and tls.key (the node's own certificate)")
            }
            (Some(_), ClientAuth::None) => invalid(
                "tls.client_ca is set but tls.client_auth is \"none\": set it to \"optional\" \
                 or \"required\", or remove client_ca",
            ),
            (None, ClientAuth::Optional | ClientAuth::Required) => invalid(
                "tls.client_auth asks for client certificates: set tls.client_ca to the CA \
                 certificates (PEM) that issue them",
            ),
            _ if !self.collectors.is_empty() && self.client_auth != ClientAuth::Required => {
                invalid(
                    "tls.collectors admits only listed collectors' certificates: it needs \
                     tls.client_auth = \"required\" (and tls.client_ca)",
                )
            }
            _ => self.collector_ids().map(|_| ()),
        }
    }

    /// The collectors `collectors` lists, parsed (`None` when it is empty: any collector).
    pub fn collector_ids(&self) -> Result<Option<Vec<FeedId>>, ConfigError> {
        if self.collectors.is_empty() {
            return Ok(None);
        }
        if self.collectors.len() > MAX_TLS_COLLECTORS {
            return Err(ConfigError::Invalid(format!(
                "tls.collectors lists {} collectors; at most {MAX_TLS_COLLECTORS}",
                self.collectors.len()
            )));
        }
        self.collectors
            .iter()
            .map(|text| {
                TypedFeedId::parse_role(text, Role::Collector).map_err(|e| {
                    ConfigError::Invalid(format!(
                        "tls.collectors: {text:?} is not a collector id: {e}"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// `[admin]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSection {
    /// Serve `/admin/` calls beside `/metrics` (needs `[metrics] enabled`). They are answered
    /// only to loopback clients: the listener speaks plain HTTP (from another host, go through
    /// a TLS-terminating proxy on this host).
    pub enabled: bool,
    /// A file holding a bearer token every admin call must present as well. Unset: any
    /// loopback client may call.
    pub token_file: Option<PathBuf>,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self {
            enabled: true,
            token_file: None,
        }
    }
}

/// `[transparency]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransparencySection {
    /// Serve the public transparency pages and their JSON API.
    pub enabled: bool,
    /// Where. Loopback by default (port 0 picks one, written to
    /// `<data_dir>/transparency.addr`); a public node serves it behind its web server.
    pub listen: SocketAddr,
    /// Counts below this are published only as "< k" (k-anonymity threshold), >= 1.
    pub k: u64,
}

impl Default for TransparencySection {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            k: 5,
        }
    }
}

/// `[metrics]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSection {
    /// Serve `GET /metrics` (Prometheus text format).
    pub enabled: bool,
    /// Where. Loopback by default; port 0 picks a free port (written to
    /// `<data_dir>/metrics.addr`). A production node uses a fixed port (deploy/consentd.toml).
    pub listen: SocketAddr,
}

impl Default for MetricsSection {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// `[p2p]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct P2pSection {
    /// Replicate with peers at all.
    pub enabled: bool,
    /// Listen multiaddrs. Port 0 picks a free port (written to `<data_dir>/p2p.addr`); give a
    /// fixed port, on a public address, for a node that others bootstrap from.
    pub listen: Vec<String>,
    /// Peers to dial at start, in addition to the genesis file's bootstrap list
    /// (`/ip4/.../tcp/.../p2p/<peer id>`).
    pub bootstrap: Vec<String>,
    /// Discover other nodes of the network on the local network (mDNS). For a LAN or a dev
    /// network; a city's nodes find each other through the bootstrap peers and Kademlia.
    pub mdns: bool,
}

impl Default for P2pSection {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: vec![
                "/ip4/127.0.0.1/tcp/0".into(),
                "/ip4/127.0.0.1/udp/0/quic-v1".into(),
            ],
            bootstrap: Vec::new(),
            mdns: false,
        }
    }
}

pub use crate::store::Engine;

/// `[store]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// "fjall" or "sled"; unset (the default): the engine the data directory already holds, or
    /// fjall for a new one. A data directory keeps the engine it was created with.
    pub engine: Option<Engine>,
    /// fjall's block cache in MiB (8..=65536; unset: 512): decoded blocks kept for reads. A city
    /// node (millions of entries) answers cold checks several times faster with it large; the
    /// node's memory grows by up to this much as it reads. sled keeps its own 256 MiB cache.
    pub cache_mib: Option<u64>,
}

/// `[ledger]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerSection {
    /// Most entries held pending (waiting for a predecessor or a referenced entry); one source
    /// (a gRPC client address, a p2p peer) holds at most an eighth of them, at least 64.
    pub max_pending: u64,
    /// How long a pending entry is kept.
    #[serde(with = "humantime_serde")]
    pub pending_ttl: Duration,
    /// Most entries written in one group commit.
    pub max_group_entries: usize,
}

/// `[grpc]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcSection {
    /// Concurrent requests per client connection.
    pub concurrency_per_connection: usize,
    /// Time limit for one unary request.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// At shutdown, how long calls in flight may finish before their connections are closed
    /// (a client that stopped reading cannot hold the stop up longer).
    #[serde(with = "humantime_serde")]
    pub drain: Duration,
    /// Client connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Client connections one address (an IPv6 /64) may have open at once.
    pub max_connections_per_address: usize,
    /// Addresses of the reverse proxies in front of the API: a call through one is charged to
    /// the client address the proxy appends to `x-forwarded-for` (for the limits per address),
    /// and their connections count in `max_connections` only.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for LedgerSection {
    fn default() -> Self {
        let d = crate::ledger::LedgerConfig::default();
        Self {
            max_pending: d.max_pending,
            pending_ttl: Duration::from_millis(d.pending_ttl_ms),
            max_group_entries: d.max_group_entries,
        }
    }
}

impl Default for GrpcSection {
    fn default() -> Self {
        Self {
            concurrency_per_connection: 256,
            request_timeout: Duration::from_secs(30),
            drain: Duration::from_secs(10),
            max_connections: 4_096,
            max_connections_per_address: 64,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            insecure_plaintext: false,
            genesis: None,
            log_format: LogFormat::Human,
            log_level: "info".into(),
            ledger: LedgerSection::default(),
            grpc: GrpcSection::default(),
            store: StoreSection::default(),
            p2p: P2pSection::default(),
            metrics: MetricsSection::default(),
            transparency: TransparencySection::default(),
            admin: AdminSection::default(),
            tls: TlsSection::default(),
            clock: crate::clock::Clock::system(),
        }
    }
}

/// `$CONSENT_DATA_DIR`, else `$XDG_DATA_HOME/consent-ledger/node`, else
/// `$HOME/.local/share/consent-ledger/node`, else `./consent-data`. A variable set to the empty
/// string counts as unset (as the XDG rule says), so it never makes the path relative.
pub fn default_data_dir() -> PathBuf {
    data_dir_from(|name| std::env::var_os(name))
}

/// [`default_data_dir`] with the environment given.
fn data_dir_from(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> PathBuf {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(dir) = set("CONSENT_DATA_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(xdg) = set("XDG_DATA_HOME") {
        return PathBuf::from(xdg).join("consent-ledger/node");
    }
    if let Some(home) = set("HOME") {
        return PathBuf::from(home).join(".local/share/consent-ledger/node");
    }
    PathBuf::from("consent-data")
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML or unknown keys.
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's explanation.
        message: String,
    },
    /// Values out of range.
    #[error("config: {0}")]
    Invalid(String),
}

/// Largest config file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

impl Config {
    /// Reads a TOML file (missing keys take their defaults).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let read = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read)?.len();
        if len > MAX_CONFIG_BYTES {
            return Err(ConfigError::Invalid(format!(
                "{} is {len} bytes; the limit is 1 MiB",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks value ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.transparency.k == 0 || self.transparency.k > 1_000 {
            return Err(ConfigError::Invalid(
                "transparency.k must be 1..=1000 (counts below it are shown as \"< k\")".into(),
            ));
        }
        if self.ledger.max_group_entries == 0 || self.ledger.max_group_entries > 100_000 {
            return Err(ConfigError::Invalid(
                "ledger.max_group_entries must be 1..=100000".into(),
            ));
        }
        if self.ledger.max_pending > 10_000_000 {
            return Err(ConfigError::Invalid(
                "ledger.max_pending must be at most 10000000".into(),
            ));
        }
        if self
            .store
            .cache_mib
            .is_some_and(|m| !(8..=65_536).contains(&m))
        {
            return Err(ConfigError::Invalid(
                "store.cache_mib must be 8..=65536 (MiB of fjall's block cache)".into(),
            ));
        }
        if self.grpc.concurrency_per_connection == 0 {
            return Err(ConfigError::Invalid(
                "grpc.concurrency_per_connection must be at least 1".into(),
            ));
        }
        if self.grpc.max_connections == 0 || self.grpc.max_connections_per_address == 0 {
            return Err(ConfigError::Invalid(
                "grpc.max_connections and grpc.max_connections_per_address must be at least 1"
                    .into(),
            ));
        }
        self.tls.check()
    }

    /// The write-path settings.
    pub fn ledger_config(&self) -> crate::ledger::LedgerConfig {
        crate::ledger::LedgerConfig {
            max_pending: self.ledger.max_pending,
            pending_ttl_ms: self.ledger.pending_ttl.as_millis() as u64,
            max_group_entries: self.ledger.max_group_entries,
            clock: self.clock.clone(),
            ..crate::ledger::LedgerConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_directory_lookup_treats_empty_variables_as_unset() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        assert_eq!(
            data_dir_from(env(&[("XDG_DATA_HOME", ""), ("HOME", "/home/ana")])),
            PathBuf::from("/home/ana/.local/share/consent-ledger/node")
        );
        assert_eq!(
            data_dir_from(env(&[("CONSENT_DATA_DIR", ""), ("XDG_DATA_HOME", "/x")])),
            PathBuf::from("/x/consent-ledger/node")
        );
        assert_eq!(
            data_dir_from(env(&[("CONSENT_DATA_DIR", "/d")])),
            PathBuf::from("/d")
        );
        assert_eq!(data_dir_from(env(&[])), PathBuf::from("consent-data"));
    }

    #[test]
    fn example_config_parses_to_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("example.config.toml");
        let parsed = Config::load(&path).expect("example config parses");
        // The example names a data dir explicitly; everything else is the default.
        let expected = Config {
            data_dir: parsed.data_dir.clone(),
            ..Config::default()
        };
        assert_eq!(parsed, expected);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "grpc_listn = \"127.0.0.1:1\"\n").expect("write");
        assert!(matches!(
            Config::load(&path),
            Err(ConfigError::Parse { .. })
        ));
        std::fs::write(&path, "[ledger]\nmax_group_entries = 0\n").expect("write");
        assert!(matches!(Config::load(&path), Err(ConfigError::Invalid(_))));
        std::fs::write(&path, "[grpc]\nmax_connections_per_address = 0\n").expect("write");
        assert!(matches!(Config::load(&path), Err(ConfigError::Invalid(_))));
        std::fs::write(&path, "[store]\ncache_mib = 4\n").expect("write");
        assert!(matches!(Config::load(&path), Err(ConfigError::Invalid(_))));
        std::fs::write(&path, "[store]\ncache_mib = 64\n").expect("write");
        assert_eq!(
            Config::load(&path).expect("valid").store.cache_mib,
            Some(64)
        );
        std::fs::write(
            &path,
            "[grpc]\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]\n",
        )
        .expect("write");
        assert_eq!(
            Config::load(&path).expect("valid").grpc.trusted_proxies,
            vec![
                IpAddr::from(std::net::Ipv4Addr::LOCALHOST),
                IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
            ]
        );
        for half in [
            "[tls]\ncert = \"c.pem\"\n",
            "[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\nclient_ca = \"ca.pem\"\n",
            "[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\nclient_auth = \"required\"\n",
            "[tls]\nclient_ca = \"ca.pem\"\nclient_auth = \"optional\"\n",
        ] {
            std::fs::write(&path, half).expect("write");
            assert!(
                matches!(Config::load(&path), Err(ConfigError::Invalid(_))),
                "{half}"
            );
        }
        std::fs::write(&path, "[tls]\nclient_auth = \"sometimes\"\n").expect("write");
        assert!(matches!(
            Config::load(&path),
            Err(ConfigError::Parse { .. })
        ));
        std::fs::write(
            &path,
            "insecure_plaintext = true\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n\
             client_ca = \"ca.pem\"\nclient_auth = \"required\"\n",
        )
        .expect("write");
        let loaded = Config::load(&path).expect("valid");
        assert!(loaded.insecure_plaintext && loaded.tls.enabled());
        assert_eq!(loaded.tls.client_auth, ClientAuth::Required);
        std::fs::write(&path, "[ledger]\npending_ttl = \"5m\"\n").expect("write");
        assert_eq!(
            Config::load(&path).expect("valid").ledger.pending_ttl,
            Duration::from_secs(300)
        );
        assert!(matches!(
            Config::load(&dir.path().join("missing.toml")),
            Err(ConfigError::Read { .. })
        ));
    }
}
