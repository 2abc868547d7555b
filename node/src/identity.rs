//! The node's Ed25519 identity: created once in the data directory (`node.key`, mode 0600) and
//! used to sign receipts (and, with replication, as the libp2p identity).

use std::io::Write;
use std::path::Path;

use consent_proto::keys::SecretKey;
use zeroize::Zeroizing;

/// File name of the node key inside the data directory.
pub const KEY_FILE: &str = "node.key";

/// The node key in `data_dir`, if there is one; never creates it (`consentd check-store`).
pub fn load(data_dir: &Path) -> std::io::Result<Option<SecretKey>> {
    let path = data_dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => from_file(&path, bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The key the file at `path` holds (`bytes`).
fn from_file(path: &Path, bytes: Vec<u8>) -> std::io::Result<SecretKey> {
    let bytes = Zeroizing::new(bytes);
    let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} must hold exactly 32 bytes; it holds {}",
                path.display(),
                bytes.len()
            ),
        )
    })?;
    let seed = Zeroizing::new(seed);
    Ok(SecretKey::from_seed(&seed))
}

/// Loads the node key, creating it on first start.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<SecretKey> {
    let path = data_dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => from_file(&path, bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut())
                .map_err(|e| std::io::Error::other(format!("no randomness: {e}")))?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&path)?;
            file.write_all(seed.as_ref())?;
            file.sync_all()?;
            Ok(SecretKey::from_seed(&seed))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(load(dir.path()).expect("no key is no error").is_none());
        assert!(!dir.path().join(KEY_FILE).exists(), "load never creates it");
        let a = load_or_create(dir.path()).expect("create");
        let b = load_or_create(dir.path()).expect("load");
        assert_eq!(a.public(), b.public());
        let c = load(dir.path()).expect("load").expect("a key");
        assert_eq!(a.public(), c.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join(KEY_FILE), b"short").expect("write");
        assert!(load_or_create(dir.path()).is_err());
    }
}
