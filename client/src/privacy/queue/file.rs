//! The queue file on disk: sealed with XChaCha20-Poly1305 under a key derived from the wallet's
//! master secret, written atomically (a new private temporary file, fsynced, renamed, the
//! directory fsynced).

use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use super::{FORMAT, MAX_ITEMS, Queue, QueueError, with_suffix};

/// Largest queue file read: every entry at its 8 KiB limit, hex, with room to spare.
const MAX_FILE_BYTES: u64 = 48 * 1024 * 1024;
const QUEUE_KEY: &str = "consent-ledger wallet v1 send queue key";
const CIPHER: &str = "xchacha20poly1305";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sealed {
    format: String,
    cipher: String,
    nonce: String,
    ciphertext: String,
}

fn cipher(secret: &[u8; 32]) -> XChaCha20Poly1305 {
    let key = crate::wallet::derive(QUEUE_KEY, &[secret]);
    XChaCha20Poly1305::new(key.as_ref().into())
}

/// Reads the queue at `path` with the wallet's master `secret`; an empty queue when there is no
/// file.
pub fn load(path: &Path, secret: &[u8; 32]) -> Result<Queue, QueueError> {
    let invalid = |message: String| QueueError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let io = |source| QueueError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Queue::default()),
        Err(e) => return Err(io(e)),
    };
    if !meta.is_file() {
        return Err(invalid("not a regular file".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(invalid(format!(
            "{} bytes, more than a queue holds",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let sealed: Sealed = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if sealed.format != FORMAT || sealed.cipher != CIPHER {
        return Err(invalid(format!("unsupported format {:?}", sealed.format)));
    }
    let nonce: [u8; 24] = hex::decode(&sealed.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| invalid("nonce".into()))?;
    let ciphertext = hex::decode(&sealed.ciphertext).map_err(|e| invalid(e.to_string()))?;
    let plain = zeroize::Zeroizing::new(
        cipher(secret)
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: FORMAT.as_bytes(),
                },
            )
            .map_err(|_| {
                invalid("it does not decrypt with this wallet's key, or was altered".into())
            })?,
    );
    let queue: Queue = serde_json::from_slice(&plain).map_err(|e| invalid(e.to_string()))?;
    if queue.items.len() > MAX_ITEMS {
        return Err(invalid(format!("more than {MAX_ITEMS} entries")));
    }
    if let Some(e) = queue.items.iter().find_map(|q| q.decode().err()) {
        return Err(invalid(e));
    }
    Ok(queue)
}

/// Writes `queue` to `path` atomically, encrypted for the wallet's master `secret`; an empty
/// queue with nothing recorded ([`Queue::is_empty`]) removes the file.
pub fn save(path: &Path, secret: &[u8; 32], queue: &Queue) -> Result<(), QueueError> {
    let io = |source| QueueError::Io {
        path: path.to_path_buf(),
        source,
    };
    if queue.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        };
    }
    let plain = zeroize::Zeroizing::new(
        serde_json::to_vec(queue).map_err(|e| io(std::io::Error::other(e)))?,
    );
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce)
        .map_err(|e| io(std::io::Error::other(format!("no randomness: {e}"))))?;
    let ciphertext = cipher(secret)
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: FORMAT.as_bytes(),
            },
        )
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    let sealed = Sealed {
        format: FORMAT.into(),
        cipher: CIPHER.into(),
        nonce: hex::encode(nonce),
        ciphertext: hex::encode(ciphertext),
    };
    let text = serde_json::to_string_pretty(&sealed).map_err(|e| io(std::io::Error::other(e)))?;
    let tmp = with_suffix(path, ".tmp");
    let mut f = create_temp(&tmp)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)?;
    // The rename itself survives a crash once the directory is synced (best effort: not every
    // platform opens a directory).
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A new temporary file, mode 0600, never reached through a link; a regular file left by a
/// crashed save is replaced, anything else refused.
fn create_temp(tmp: &Path) -> Result<std::fs::File, QueueError> {
    let io = |source| QueueError::Io {
        path: tmp.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(tmp) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        other => return other.map_err(io),
    }
    if !std::fs::symlink_metadata(tmp)
        .map_err(io)?
        .file_type()
        .is_file()
    {
        return Err(QueueError::Invalid {
            path: tmp.to_path_buf(),
            message: "something other than a file is where the queue writes its temporary file; \
                      remove it"
                .into(),
        });
    }
    std::fs::remove_file(tmp).map_err(io)?;
    options.open(tmp).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::super::tests::feed;
    use super::super::{Queued, path_for};
    use super::*;

    const SECRET: [u8; 32] = [7; 32];

    #[test]
    fn the_queue_round_trips_encrypted_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = path_for(&dir.path().join("keystore.json"));
        assert_eq!(path, dir.path().join("keystore.queue"));
        assert_eq!(load(&path, &SECRET).expect("no file"), Queue::default());
        let (inception, request) = feed(1);
        let mut q = Queue::default();
        q.push(Queued::new(
            &inception,
            "col1secret",
            "feed inception",
            5,
            "http://n:1",
        ))
        .expect("push");
        q.push(Queued::new(
            &request,
            "col1secret",
            "request",
            9,
            "http://n:1",
        ))
        .expect("push");
        q.record_sent(&inception, "http://n:2");
        save(&path, &SECRET, &q).expect("save");
        assert_eq!(load(&path, &SECRET).expect("load"), q);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("col1secret") && !text.contains(&q.items[0].entry[..40]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(
            !with_suffix(&path, ".tmp").exists(),
            "the temporary file is gone"
        );
        // Another wallet's key, or a flipped byte: refused, never half-read.
        assert!(matches!(
            load(&path, &[8; 32]),
            Err(QueueError::Invalid { .. })
        ));
        let sealed: serde_json::Value = serde_json::from_str(&text).expect("json");
        let ct = sealed["ciphertext"].as_str().expect("ct").to_string();
        let flipped = format!(
            "{}{}",
            if ct.starts_with('0') { "1" } else { "0" },
            &ct[1..]
        );
        std::fs::write(&path, text.replace(&ct, &flipped)).expect("write");
        assert!(matches!(
            load(&path, &SECRET),
            Err(QueueError::Invalid { .. })
        ));
        // Empty and with nothing recorded: the file goes.
        save(&path, &SECRET, &Queue::default()).expect("save empty");
        assert!(!path.exists());
    }
}
