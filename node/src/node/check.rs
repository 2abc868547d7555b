//! What `consentd check-store --full` checks beyond the store once the store passed: the
//! transparency register saved in the data directory, against the one the log gives.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::genesis::Genesis;
use crate::ledger::{Ledger, LedgerConfig, LedgerError};
use crate::store::KvStore;
use crate::transparency::register::{self, Compared};

/// What `consentd check-store --full` found of the transparency register's saved file.
#[derive(Debug)]
pub enum RegisterCheck {
    /// There is no saved register.
    Absent,
    /// There is no node key in the data directory: the file cannot be checked (a start would
    /// create a new key, and not load it).
    NoKey,
    /// A start would not load the file either (why): it would read the whole log instead.
    NotUsed(String),
    /// The file is the register the log's first `log_size` entries give.
    Same {
        /// Its position.
        log_size: u64,
    },
    /// The file is not the register the log gives (`what` differs), though it was written with
    /// the node's key: by this node under a counting bug, or by someone holding the key. It was
    /// deleted, or `deleted` says why not.
    Differs {
        /// Its position.
        log_size: u64,
        /// What differs.
        what: String,
        /// Whether the file was deleted.
        deleted: Result<(), String>,
    },
}

impl RegisterCheck {
    /// Whether it is a finding: the file said what the log does not.
    pub fn is_finding(&self) -> bool {
        matches!(self, RegisterCheck::Differs { .. })
    }
}

impl fmt::Display for RegisterCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterCheck::Absent => write!(f, "no saved transparency register"),
            RegisterCheck::NoKey => write!(
                f,
                "no node key in the data directory: a saved transparency register cannot be checked"
            ),
            RegisterCheck::NotUsed(why) => write!(
                f,
                "the saved transparency register would not be loaded ({why}): a start reads the \
                 whole log instead"
            ),
            RegisterCheck::Same { log_size } => write!(
                f,
                "the saved transparency register is the one the log's first {log_size} entries give"
            ),
            RegisterCheck::Differs {
                log_size,
                what,
                deleted,
            } => {
                write!(
                    f,
                    "the saved transparency register (at {log_size} entries) is not the one the \
                     log gives ({what} differ). It carries this node's key: it was written by this \
                     node under a counting bug, or by someone who can read node.key, and the \
                     transparency site showed its figures as they were. "
                )?;
                match deleted {
                    Ok(()) => write!(
                        f,
                        "It was deleted: the next start reads the whole log. If nobody else can \
                         have read node.key, report the bug."
                    ),
                    Err(e) => write!(
                        f,
                        "It could not be deleted ({e}): delete the file `{}` in the data \
                         directory before the next start.",
                        register::FILE
                    ),
                }
            }
        }
    }
}

/// Opens the ledger on `store` (a store `fsck::full` just passed: the open checks it again from
/// its start-up position and, like a start, saves a position; it serves nothing) and compares
/// the transparency register saved in `data_dir` with the one the log gives, keyed with the
/// node's key in `data_dir` (never created here). A saved register that differs is deleted.
/// Blocking: it reads the log up to the file's position.
pub fn check_saved_register(
    store: Arc<dyn KvStore>,
    genesis: &Genesis,
    data_dir: &Path,
) -> Result<RegisterCheck, LedgerError> {
    let key = match crate::identity::load(data_dir) {
        Ok(Some(key)) => key,
        Ok(None) => return Ok(RegisterCheck::NoKey),
        Err(e) => {
            return Ok(RegisterCheck::NotUsed(format!(
                "the node key cannot be read: {e}"
            )));
        }
    };
    let (ledger, writer) = Ledger::open(
        store,
        genesis.registrar_feeds(),
        &genesis.digest(),
        LedgerConfig {
            consultation: genesis.consultation,
            ..LedgerConfig::default()
        },
    )?;
    let saving = register::Saving {
        dir: data_dir.to_path_buf(),
        key: register::FileKey::of(&key),
    };
    let compared = register::compare_saved(&ledger, &saving);
    // The writer stops (saving a position, flushing) once the last handle is gone.
    drop(ledger);
    writer.join();
    Ok(match compared? {
        Compared::Absent => RegisterCheck::Absent,
        Compared::NotUsed(why) => RegisterCheck::NotUsed(why),
        Compared::Same { log_size } => RegisterCheck::Same { log_size },
        Compared::Differs {
            log_size,
            what,
            deleted,
        } => RegisterCheck::Differs {
            log_size,
            what,
            deleted,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    /// Without the node's key there is nothing to check the file with, and it is never created
    /// here; with it and no file, there is nothing to compare (the comparison itself is tested
    /// with the follower).
    #[test]
    fn without_a_key_or_a_file_there_is_nothing_to_compare() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let genesis = Genesis::dev();
        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let checked = check_saved_register(Arc::clone(&store), &genesis, dir.path());
        assert!(matches!(checked, Ok(RegisterCheck::NoKey)), "{checked:?}");
        assert!(!dir.path().join(crate::identity::KEY_FILE).exists());
        crate::identity::load_or_create(dir.path()).expect("a key");
        let checked = check_saved_register(store, &genesis, dir.path());
        assert!(matches!(checked, Ok(RegisterCheck::Absent)), "{checked:?}");
        assert!(!RegisterCheck::Absent.is_finding());
    }
}
