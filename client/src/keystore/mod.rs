//! The encrypted keystore: one JSON file (mode 0600) holding a master secret and a little state,
//! encrypted with XChaCha20-Poly1305 under a key derived from the passphrase with Argon2id. The
//! header (format, role, KDF parameters) is authenticated as associated data, so it cannot be
//! altered either. Secrets (the master secret, its hex in the plaintext, the plaintext itself) live
//! in `Zeroizing` buffers and are wiped when dropped. A save writes a new temporary file (O_EXCL,
//! mode 0600) and renames it over the keystore.
//!
//! File format (`consent-keystore/v1`):
//! ```json
//! { "format": "consent-keystore/v1", "role": "citizen",
//!   "kdf": { "algorithm": "argon2id", "memory_kib": 65536, "iterations": 3, "parallelism": 1, "salt": "<hex 16>" },
//!   "cipher": "xchacha20poly1305", "nonce": "<hex 24>", "ciphertext": "<hex>" }
//! ```
//! The plaintext is JSON: `{ "master": "<hex 32>", "state": { ... } }` (see [`State`]); after a
//! child's `consent wallet takeover`, also `"successor": "<hex 32>"`, the master secret its feeds
//! were rotated to (the first one is still needed: feed ids and inceptions derive from it).
//!
//! The recovery key is the master secret as bech32m with the prefix `recovery` (32 bytes); with
//! a successor it is format v2: `2 || master || successor` (65 bytes), so one key restores both.
//!
//! # Layout
//! - `file`: the file on disk: header, key derivation, sealing, create, open, save.
//! - `state`: what the wallet remembers besides its secrets ([`State`]).
//! - `delegation`: the state about acting for others and being acted for ([`Slot`], [`Given`],
//!   [`Child`], [`Minor`]).
//! - `recovery`: recovery keys ([`recovery_key`], [`parse_recovery`]).

use std::path::{Path, PathBuf};

use consent_proto::vocab::Role;
use zeroize::Zeroizing;

mod delegation;
mod file;
mod recovery;
mod state;

pub use delegation::{Child, Given, Minor, Slot};
pub use file::{DEFAULT_MEMORY_KIB, FORMAT, Kdf, MIN_MEMORY_KIB};
pub use recovery::{Recovered, parse_recovery, parse_recovery_key, recovery_key, recovery_key_v2};
pub use state::{FeedState, MAX_UNSENT, OwnFeed, State};

use file::random;

/// Keystore failures, each with what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// No file.
    #[error("no keystore at {0}; create one with `consent wallet init` (or pass --keystore)")]
    Missing(PathBuf),
    /// A file exists where a new one would go.
    #[error("a keystore already exists at {0}; pass another --keystore, or move it away first")]
    Exists(PathBuf),
    /// Wrong passphrase (or a tampered file).
    #[error("wrong passphrase for {0} (or the file was altered); nothing was changed")]
    WrongPassphrase(PathBuf),
    /// Unreadable or malformed.
    #[error("keystore {path} is unreadable: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// I/O.
    #[error("keystore {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Key derivation or encryption failed.
    #[error("keystore cryptography failed: {0}")]
    Crypto(String),
    /// Something other than a file sits where a save writes its temporary file.
    #[error(
        "{path} is {what}, where the keystore writes its temporary file; nothing was saved: remove it and try again (if you did not put it there, someone may be redirecting your keystore's writes)"
    )]
    InTheWay {
        /// The temporary file's path.
        path: PathBuf,
        /// What is there.
        what: &'static str,
    },
}

/// An unlocked keystore.
pub struct Keystore {
    path: PathBuf,
    role: Role,
    kdf: Kdf,
    master: Zeroizing<[u8; 32]>,
    successor: Option<Zeroizing<[u8; 32]>>,
    /// Local state; call [`Keystore::save`] after changing it.
    pub state: State,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Keystore({}, {}, <secrets redacted>)",
            self.path.display(),
            self.role
        )
    }
}

impl Keystore {
    /// The role this keystore was created for.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The master secret (everything derives from it).
    pub fn master(&self) -> &[u8; 32] {
        &self.master
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The successor master secret (after a child's `consent wallet takeover`).
    pub fn successor(&self) -> Option<&[u8; 32]> {
        self.successor.as_deref()
    }

    /// Sets the successor master secret; call [`Keystore::save`] after.
    pub fn set_successor(&mut self, successor: Zeroizing<[u8; 32]>) {
        self.successor = Some(successor);
    }

    /// The recovery key for this keystore's secrets: format v2 when it has a successor.
    pub fn recovery_key(&self) -> Zeroizing<String> {
        match &self.successor {
            Some(s) => recovery_key_v2(&self.master, s),
            None => recovery_key(&self.master),
        }
    }
}

/// A fresh random master secret (a child's successor at takeover).
pub fn fresh_master() -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    Ok(Zeroizing::new(random::<32>()?))
}

#[cfg(test)]
mod tests {
    use super::file::Plain;
    use super::*;

    fn create(dir: &Path) -> (PathBuf, [u8; 32]) {
        let path = dir.join("ks.json");
        let ks = Keystore::create(
            &path,
            Role::Citizen,
            "a good passphrase",
            MIN_MEMORY_KIB,
            None,
        )
        .expect("create");
        (path, *ks.master())
    }

    #[test]
    fn round_trip_and_state_survive_saving() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, master) = create(dir.path());
        let mut ks = Keystore::open(&path, "a good passphrase").expect("open");
        assert_eq!(*ks.master(), master);
        ks.state.pairwise.insert(
            "col1x".into(),
            FeedState {
                rotations: 2,
                ..FeedState::default()
            },
        );
        ks.save().expect("save");
        let again = Keystore::open(&path, "a good passphrase").expect("open");
        assert_eq!(
            again.state.pairwise.get("col1x").map(|f| f.rotations),
            Some(2)
        );
        assert!(matches!(
            Keystore::create(&path, Role::Citizen, "x", MIN_MEMORY_KIB, None),
            Err(KeystoreError::Exists(_))
        ));
    }

    #[test]
    fn a_reload_reads_what_another_command_saved_since() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, _) = create(dir.path());
        let mut first = Keystore::open(&path, "a good passphrase").expect("open");
        let mut second = Keystore::open(&path, "a good passphrase").expect("open");
        second.state.pairwise.insert(
            "col1x".into(),
            FeedState {
                rotations: 1,
                ..FeedState::default()
            },
        );
        second.save().expect("save");
        assert!(first.state.pairwise.is_empty(), "read before");
        first.reload().expect("reload");
        assert_eq!(
            first.state.pairwise.get("col1x").map(|f| f.rotations),
            Some(1)
        );
        // Another wallet put in its place: refused, nothing read.
        std::fs::remove_file(&path).expect("remove");
        create(dir.path());
        assert!(matches!(first.reload(), Err(KeystoreError::Invalid { .. })));
    }

    #[test]
    fn secrets_are_not_on_disk_in_clear_and_the_file_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, master) = create(dir.path());
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains(&hex::encode(master)));
        assert!(!text.contains(recovery_key(&master).as_str()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Each save uses a fresh nonce.
        let ks = Keystore::open(&path, "a good passphrase").expect("open");
        ks.save().expect("save");
        assert_ne!(std::fs::read_to_string(&path).expect("read"), text);
    }

    #[test]
    fn wrong_passphrase_and_tampering_are_refused_without_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, _) = create(dir.path());
        let before = std::fs::read(&path).expect("read");
        assert!(matches!(
            Keystore::open(&path, "wrong"),
            Err(KeystoreError::WrongPassphrase(_))
        ));
        assert_eq!(
            std::fs::read(&path).expect("read"),
            before,
            "nothing changed"
        );
        // The header is authenticated: lowering the KDF cost or changing the role is detected.
        let text = String::from_utf8(before.clone()).expect("utf8");
        let weaker = text.replace("\"iterations\": 3", "\"iterations\": 2");
        std::fs::write(&path, weaker).expect("write");
        assert!(matches!(
            Keystore::open(&path, "a good passphrase"),
            Err(KeystoreError::WrongPassphrase(_))
        ));
        let other_role = text.replace("\"role\": \"citizen\"", "\"role\": \"registrar\"");
        std::fs::write(&path, other_role).expect("write");
        assert!(matches!(
            Keystore::open(&path, "a good passphrase"),
            Err(KeystoreError::WrongPassphrase(_))
        ));
        // A flipped ciphertext digit.
        let file: serde_json::Value = serde_json::from_str(&text).expect("json");
        let ct = file["ciphertext"].as_str().expect("ciphertext").to_string();
        let flipped = format!(
            "{}{}",
            if ct.starts_with('0') { "1" } else { "0" },
            &ct[1..]
        );
        std::fs::write(&path, text.replace(&ct, &flipped)).expect("write");
        assert!(matches!(
            Keystore::open(&path, "a good passphrase"),
            Err(KeystoreError::WrongPassphrase(_))
        ));
        std::fs::write(&path, "{not json").expect("write");
        assert!(matches!(
            Keystore::open(&path, "a good passphrase"),
            Err(KeystoreError::Invalid { .. })
        ));
        assert!(matches!(
            Keystore::open(&dir.path().join("none.json"), "x"),
            Err(KeystoreError::Missing(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_the_temp_path_is_never_followed() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, master) = create(dir.path());
        let before = std::fs::read(&path).expect("read");
        let tmp = path.with_extension("tmp");
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "untouched").expect("write");
        let missing = dir.path().join("created-through-the-link");
        for target in [&victim, &missing] {
            symlink(target, &tmp).expect("symlink");
            let ks = Keystore::open(&path, "a good passphrase").expect("open");
            match ks.save() {
                Err(KeystoreError::InTheWay { what, .. }) => assert_eq!(what, "a symbolic link"),
                other => panic!("expected a refusal, got {other:?}"),
            }
            assert_eq!(std::fs::read_to_string(&victim).expect("read"), "untouched");
            assert!(!missing.exists(), "nothing is created through the link");
            let left = std::fs::symlink_metadata(&tmp).expect("still there");
            assert!(left.file_type().is_symlink(), "the link is left alone");
            assert_eq!(
                std::fs::read(&path).expect("read"),
                before,
                "the keystore is unchanged"
            );
            std::fs::remove_file(&tmp).expect("remove the link");
        }
        // With the link gone, saving works again.
        let ks = Keystore::open(&path, "a good passphrase").expect("open");
        ks.save().expect("save");
        assert_eq!(
            *Keystore::open(&path, "a good passphrase")
                .expect("open")
                .master(),
            master
        );
        // A directory there is refused too.
        std::fs::create_dir(&tmp).expect("mkdir");
        assert!(matches!(ks.save(), Err(KeystoreError::InTheWay { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn a_temp_file_left_by_a_crash_is_replaced_by_a_private_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, master) = create(dir.path());
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, "half a keystore").expect("write");
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let ks = Keystore::open(&path, "a good passphrase").expect("open");
        ks.save().expect("save");
        assert!(!tmp.exists(), "the leftover is gone");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the leftover's mode did not carry over"
        );
        assert_eq!(
            *Keystore::open(&path, "a good passphrase")
                .expect("open")
                .master(),
            master
        );
    }

    #[test]
    fn the_plaintext_master_secret_is_wiped_on_drop_and_its_format_is_unchanged() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
        let hex_master = "07".repeat(32);
        let text = format!(r#"{{"master":"{hex_master}","state":{{"pairwise":{{}},"own":null}}}}"#);
        let plain: Plain = serde_json::from_str(&text).expect("parses");
        wiped_on_drop(&plain.master);
        assert_eq!(plain.master.as_str(), hex_master);
        assert_eq!(serde_json::to_string(&plain).expect("serializes"), text);
    }

    #[test]
    fn delegation_state_successor_and_export_survive_and_old_files_read_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, master) = create(dir.path());
        let mut ks = Keystore::open(&path, "a good passphrase").expect("open");
        assert!(ks.successor().is_none());
        ks.state.slots.insert(
            3,
            Slot {
                label: "Mum".into(),
                ..Slot::default()
            },
        );
        ks.state.minor = Some(Minor {
            comes_of_age_ms: 2_030_000_000_000,
            listed: false,
        });
        ks.set_successor(Zeroizing::new([4u8; 32]));
        ks.save().expect("save");
        let again = Keystore::open(&path, "a good passphrase").expect("open");
        assert_eq!(again.state, ks.state);
        assert_eq!(again.successor(), Some(&[4u8; 32]));
        assert_eq!(*again.master(), master);
        // Handed over under another passphrase; the original is unchanged.
        let out = dir.path().join("child.json");
        again
            .export_to(&out, "the child's passphrase", MIN_MEMORY_KIB)
            .expect("export");
        let child = Keystore::open(&out, "the child's passphrase").expect("open the copy");
        assert_eq!(
            (child.state.clone(), *child.master()),
            (ks.state.clone(), master)
        );
        assert_eq!(child.successor(), Some(&[4u8; 32]));
        assert!(matches!(
            Keystore::open(&out, "a good passphrase"),
            Err(KeystoreError::WrongPassphrase(_))
        ));
        assert!(matches!(
            again.export_to(&out, "x", MIN_MEMORY_KIB),
            Err(KeystoreError::Exists(_))
        ));
        // The recovery key covers both masters.
        let key = again.recovery_key();
        assert!(key.starts_with("recovery1"));
        let back = parse_recovery(&key).expect("parses");
        assert_eq!(*back.master, master);
        assert_eq!(back.successor.as_deref(), Some(&[4u8; 32]));
        let v1 = parse_recovery(&recovery_key(&master)).expect("v1 parses");
        assert!(v1.successor.is_none());
        assert!(parse_recovery("recovery1qqqq").is_err());
    }

    #[test]
    fn recovery_key_round_trips_and_rejects_typos() {
        let master = [9u8; 32];
        let key = recovery_key(&master);
        assert!(key.starts_with("recovery1"));
        assert_eq!(*parse_recovery_key(&key).expect("parses"), master);
        let mut typo = key.to_string();
        typo.pop();
        typo.push('x');
        assert!(parse_recovery_key(&typo).is_err());
    }
}
