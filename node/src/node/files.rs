//! Where a running node says it listens: the address files in the data directory (scripts and
//! tests that start a node on port 0 read them), and the side listeners (metrics and admin, the
//! transparency site) bound before the node serves. No address file outlives the node.

use std::net::SocketAddr;
use std::path::Path;

use tokio::net::TcpListener;

use super::StartError;
use crate::config::Config;

/// File in the data directory listing the node's dialable p2p addresses, one per line.
pub const P2P_ADDR_FILE: &str = "p2p.addr";

/// File in the data directory holding the bound gRPC address once the node serves.
pub const ADDR_FILE: &str = "grpc.addr";

/// File in the data directory holding the bound metrics address (`host:port`).
pub const METRICS_ADDR_FILE: &str = "metrics.addr";

/// File in the data directory holding the bound transparency site address (`host:port`).
pub const SITE_ADDR_FILE: &str = "transparency.addr";

/// Writes one address file (`text` is its whole content).
pub(super) fn write(data_dir: &Path, file: &str, text: &str) -> Result<(), StartError> {
    let path = data_dir.join(file);
    std::fs::write(&path, text).map_err(|source| StartError::DataDir {
        dir: path.display().to_string(),
        source,
    })
}

/// Removes every address file: the node no longer listens.
pub(super) fn remove_all(data_dir: &Path) {
    for name in [ADDR_FILE, P2P_ADDR_FILE, METRICS_ADDR_FILE, SITE_ADDR_FILE] {
        let _ = std::fs::remove_file(data_dir.join(name));
    }
}

/// A side listener: what it serves, its config section, and whether it is for operators only.
struct Side {
    what: &'static str,
    section: &'static str,
    private: bool,
    file: &'static str,
}

/// The side listeners a node serves beside gRPC, bound (each `None` when turned off).
pub(super) struct SideListeners {
    /// `/metrics` and the admin calls.
    pub metrics: Option<TcpListener>,
    /// The public transparency site.
    pub site: Option<TcpListener>,
}

/// Binds the side listeners the configuration turns on and writes their address files.
pub(super) async fn bind_sides(config: &Config) -> Result<SideListeners, StartError> {
    let metrics = match config.metrics.enabled {
        true => Some(
            bind_side(
                config,
                config.metrics.listen,
                Side {
                    what: "metrics and admin calls",
                    section: "metrics",
                    private: true,
                    file: METRICS_ADDR_FILE,
                },
            )
            .await?,
        ),
        false => None,
    };
    let site = match config.transparency.enabled {
        true => Some(
            bind_side(
                config,
                config.transparency.listen,
                Side {
                    what: "transparency site",
                    section: "transparency",
                    private: false,
                    file: SITE_ADDR_FILE,
                },
            )
            .await?,
        ),
        false => None,
    };
    Ok(SideListeners { metrics, site })
}

/// Binds a side listener and writes its address file; warns when an operators-only one is bound
/// beyond loopback.
async fn bind_side(
    config: &Config,
    addr: SocketAddr,
    side: Side,
) -> Result<TcpListener, StartError> {
    let bind = |source| StartError::BindSide {
        what: side.what,
        section: side.section,
        addr,
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind)?;
    let bound = listener.local_addr().map_err(bind)?;
    if side.private && !bound.ip().is_loopback() {
        tracing::warn!(addr = %bound, "the {} is served beyond loopback: restrict access to your monitoring", side.what);
    }
    write(&config.data_dir, side.file, &format!("{bound}\n"))?;
    Ok(listener)
}
