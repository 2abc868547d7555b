//! Which storage engine a data directory holds, and opening it: the one place outside
//! `store/` that names an engine (the node opens its store through here).

use std::sync::Arc;

use crate::store::fjall::FjallStore;
use crate::store::sled::SledStore;
use crate::store::{Engine, KvStore, StoreError};

/// Why the store in a data directory could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The directory holds a store of the other engine.
    #[error(
        "this data directory holds a {found:?} store ({}); set [store] engine = \"{}\" or use another --data-dir",
        .path.display(),
        format!("{:?}", .found).to_lowercase()
    )]
    OtherEngine {
        /// The engine whose store is there.
        found: Engine,
        /// Its directory.
        path: std::path::PathBuf,
    },
    /// The engine could not open its store (locked by another process, I/O, ...).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Opens the configured engine's store in the data directory, refusing a directory that holds a
/// store of the other engine.
pub fn open_store(
    data_dir: &std::path::Path,
    asked: Option<Engine>,
) -> Result<Arc<dyn KvStore>, OpenError> {
    open_store_with(data_dir, asked, None)
}

/// [`open_store`] with fjall's block cache of `cache_mib` MiB (`[store] cache_mib`; `None`: the
/// default; sled keeps its own).
pub fn open_store_with(
    data_dir: &std::path::Path,
    asked: Option<Engine>,
    cache_mib: Option<u64>,
) -> Result<Arc<dyn KvStore>, OpenError> {
    let engine = Engine::resolve(asked, data_dir);
    for other in [Engine::Sled, Engine::Fjall] {
        if other != engine && data_dir.join(other.dir_name()).exists() {
            return Err(OpenError::OtherEngine {
                found: other,
                path: data_dir.join(other.dir_name()),
            });
        }
    }
    let dir = data_dir.join(engine.dir_name());
    Ok(match engine {
        Engine::Sled => Arc::new(SledStore::open(&dir)?),
        Engine::Fjall => Arc::new(FjallStore::open_with(
            &dir,
            cache_mib.unwrap_or(crate::store::fjall::DEFAULT_CACHE_MIB),
        )?),
    })
}
