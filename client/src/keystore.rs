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

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use consent_proto::vocab::Role;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Format tag of the file.
pub const FORMAT: &str = "consent-keystore/v1";
/// Default Argon2id memory cost (64 MiB).
pub const DEFAULT_MEMORY_KIB: u32 = 64 * 1024;
/// Smallest memory cost accepted when reading a file (8 MiB): a weaker file is refused.
pub const MIN_MEMORY_KIB: u32 = 8 * 1024;
/// Largest keystore file read.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

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

/// KDF parameters stored in the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kdf {
    /// Always "argon2id".
    pub algorithm: String,
    /// Memory cost, KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// 16 random bytes, hex.
    pub salt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    role: String,
    kdf: Kdf,
    cipher: String,
    nonce: String,
    ciphertext: String,
}

/// What the wallet remembers besides its master secret. Everything here can be rebuilt from the
/// master secret and the nodes (see `consent wallet recover`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Citizen: pairwise feeds by collector id (`col1…`), with their rotation count.
    #[serde(default)]
    pub pairwise: BTreeMap<String, FeedState>,
    /// Collector or registrar: its one feed.
    #[serde(default)]
    pub own: Option<OwnFeed>,
    /// Citizen acting for others: its delegate feeds by slot number
    /// (`consent wallet delegate-offer`; [`crate::delegate`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slots: BTreeMap<u32, Slot>,
    /// Delegations this wallet gave (`consent wallet delegate`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub given: Vec<Given>,
    /// Digests of the offer codes this wallet delegated to ([`crate::delegate::offer::digest`]):
    /// a code is used once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers_used: Vec<String>,
    /// A guardian's children, by name (`consent wallet init --child`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub children: BTreeMap<String, Child>,
    /// A child's own keystore: until when its guardians act for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<Minor>,
}

/// A delegate feed of this wallet: slot `s` of [`crate::delegate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Whom it acts for, as this wallet's owner named them (`--name`).
    pub label: String,
    /// Key rotations done.
    #[serde(default)]
    pub rotations: u32,
    /// Ids (text) of the entries this keystore signed in the feed, recorded before they are
    /// submitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed: Vec<String>,
}

/// A delegation this wallet gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Given {
    /// The Delegation entry (`ent1…`).
    pub delegation: String,
    /// The collector of the pairwise feed it is in (`col1…`).
    pub collector: String,
    /// The delegate feed it names (`cit1…`).
    pub delegate: String,
    /// Whom it was given to, as this wallet's owner named them (`--name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A child a guardian acts for: the child's own keystore, kept until it is handed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    /// The child's keystore file (`None` once handed over with `wallet export --for-child`).
    pub keystore: Option<PathBuf>,
    /// The coming-of-age instant: UTC midnight of the date, Unix ms.
    pub comes_of_age_ms: u64,
    /// The co-guardian's delegate feed ids (`cit1…`, from its offer code); each new feed of the
    /// child names the next one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_guardian: Vec<String>,
    /// How many of them are used.
    #[serde(default)]
    pub co_guardian_used: usize,
}

/// A child's keystore: guardians act for it until `comes_of_age_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minor {
    /// The coming-of-age instant, Unix ms.
    pub comes_of_age_ms: u64,
    /// The grants guardians made that were in force at coming of age have been listed (once).
    #[serde(default)]
    pub listed: bool,
}

/// A pairwise feed's local state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedState {
    /// Key rotations done (the current key is key number `rotations`).
    pub rotations: u32,
    /// The seq from which `signed` lists every entry this keystore signed in the feed (set when
    /// the keystore first used the feed; a recovered keystore starts a new journal).
    #[serde(default)]
    pub journal_from: Option<u64>,
    /// Ids (text) of the entries this keystore signed in the feed from `journal_from` on,
    /// recorded before they are submitted.
    #[serde(default)]
    pub signed: Vec<String>,
    /// After `consent wallet takeover`: key number `n` derives from the successor master
    /// secret; the first master's keys `0..=successor_from` were used before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor_from: Option<u32>,
}

/// A collector's or registrar's feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnFeed {
    /// Feed id, text form.
    pub feed: String,
    /// Inception time, Unix ms.
    pub inception_ms: u64,
    /// Key rotations done.
    pub rotations: u32,
    /// The built-in dev network's registrar, whose keys are public constants
    /// (`consent_proto::dev`), not derived from this keystore's secret.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dev_registrar: bool,
}

/// The plaintext. The master secret's hex is wiped when dropped, on success and on error alike.
#[derive(Serialize, Deserialize)]
struct Plain {
    #[serde(serialize_with = "secret_str", deserialize_with = "secret_string")]
    master: Zeroizing<String>,
    state: State,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "secret_opt_str",
        deserialize_with = "secret_opt_string"
    )]
    successor: Option<Zeroizing<String>>,
}

fn secret_str<S: serde::Serializer>(value: &Zeroizing<String>, out: S) -> Result<S::Ok, S::Error> {
    out.serialize_str(value.as_str())
}

fn secret_string<'de, D: serde::Deserializer<'de>>(
    input: D,
) -> Result<Zeroizing<String>, D::Error> {
    String::deserialize(input).map(Zeroizing::new)
}

fn secret_opt_str<S: serde::Serializer>(
    value: &Option<Zeroizing<String>>,
    out: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => out.serialize_some(v.as_str()),
        None => out.serialize_none(),
    }
}

fn secret_opt_string<'de, D: serde::Deserializer<'de>>(
    input: D,
) -> Result<Option<Zeroizing<String>>, D::Error> {
    Option::<String>::deserialize(input).map(|v| v.map(Zeroizing::new))
}

/// Hex of a 32-byte secret, in a buffer wiped when dropped, sized so it never grows.
fn secret_hex(secret: &[u8; 32]) -> Result<Zeroizing<String>, KeystoreError> {
    let mut hex_bytes = Zeroizing::new([0u8; 64]);
    hex::encode_to_slice(&secret[..], &mut hex_bytes[..])
        .map_err(|e| KeystoreError::Crypto(e.to_string()))?;
    let mut text = Zeroizing::new(String::with_capacity(64));
    text.extend(hex_bytes.iter().map(|&b| char::from(b)));
    Ok(text)
}

/// Counts the bytes written to it: the plaintext buffer is sized exactly beforehand, so it never
/// grows (a growing `Vec` leaves copies of the secret behind in the memory it frees).
struct Count(usize);

impl Write for Count {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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

fn random<const N: usize>() -> Result<[u8; N], KeystoreError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| KeystoreError::Crypto(format!("no randomness: {e}")))?;
    Ok(b)
}

fn derive_key(passphrase: &str, kdf: &Kdf) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let salt = hex::decode(&kdf.salt).map_err(|e| KeystoreError::Crypto(format!("salt: {e}")))?;
    let params = argon2::Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32))
        .map_err(|e| KeystoreError::Crypto(e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), &salt, key.as_mut())
        .map_err(|e| KeystoreError::Crypto(e.to_string()))?;
    Ok(key)
}

fn aad(format: &str, role: &str, kdf: &Kdf) -> Vec<u8> {
    format!(
        "{format}\n{role}\n{}\n{}\n{}\n{}\n{}",
        kdf.algorithm, kdf.memory_kib, kdf.iterations, kdf.parallelism, kdf.salt
    )
    .into_bytes()
}

impl Keystore {
    /// Creates a keystore with a fresh master secret (or the given one, for recovery) and writes it.
    pub fn create(
        path: &Path,
        role: Role,
        passphrase: &str,
        memory_kib: u32,
        master: Option<Zeroizing<[u8; 32]>>,
    ) -> Result<Keystore, KeystoreError> {
        if path.exists() {
            return Err(KeystoreError::Exists(path.to_path_buf()));
        }
        let master = match master {
            Some(m) => m,
            None => Zeroizing::new(random::<32>()?),
        };
        let kdf = new_kdf(memory_kib)?;
        let key = derive_key(passphrase, &kdf)?;
        let ks = Keystore {
            path: path.to_path_buf(),
            role,
            kdf,
            master,
            successor: None,
            state: State::default(),
            key,
        };
        ks.save()?;
        Ok(ks)
    }

    /// Writes a copy of this keystore (its secrets and state) to a new file `path` under another
    /// passphrase (a guardian handing a child its keystore). This keystore is unchanged.
    pub fn export_to(
        &self,
        path: &Path,
        passphrase: &str,
        memory_kib: u32,
    ) -> Result<Keystore, KeystoreError> {
        if path.exists() {
            return Err(KeystoreError::Exists(path.to_path_buf()));
        }
        let kdf = new_kdf(memory_kib)?;
        let key = derive_key(passphrase, &kdf)?;
        let copy = Keystore {
            path: path.to_path_buf(),
            role: self.role,
            kdf,
            master: self.master.clone(),
            successor: self.successor.clone(),
            state: self.state.clone(),
            key,
        };
        copy.save()?;
        Ok(copy)
    }

    /// Opens and decrypts a keystore.
    pub fn open(path: &Path, passphrase: &str) -> Result<Keystore, KeystoreError> {
        let invalid = |message: String| KeystoreError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeystoreError::Missing(path.to_path_buf()));
            }
            Err(source) => {
                return Err(KeystoreError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        if meta.len() > MAX_FILE_BYTES {
            return Err(invalid(format!(
                "{} bytes; a keystore is at most 1 MiB",
                meta.len()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|source| KeystoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file: File = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if file.format != FORMAT
            || file.cipher != "xchacha20poly1305"
            || file.kdf.algorithm != "argon2id"
        {
            return Err(invalid(format!("unsupported format {:?}", file.format)));
        }
        if file.kdf.memory_kib < MIN_MEMORY_KIB
            || file.kdf.memory_kib > 4 * 1024 * 1024
            || file.kdf.iterations == 0
            || file.kdf.iterations > 64
            || file.kdf.parallelism == 0
            || file.kdf.parallelism > 16
        {
            return Err(invalid("KDF parameters out of range".into()));
        }
        let role = Role::from_name(&file.role).map_err(|e| invalid(e.to_string()))?;
        let nonce: [u8; 24] = hex::decode(&file.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| invalid("nonce".into()))?;
        let ciphertext = hex::decode(&file.ciphertext).map_err(|e| invalid(e.to_string()))?;
        let key = derive_key(passphrase, &file.kdf)?;
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: &aad(&file.format, &file.role, &file.kdf),
                    },
                )
                .map_err(|_| KeystoreError::WrongPassphrase(path.to_path_buf()))?,
        );
        let plain: Plain = serde_json::from_slice(&plain).map_err(|e| invalid(e.to_string()))?;
        let mut master = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(plain.master.as_bytes(), master.as_mut())
            .map_err(|_| invalid("master secret".into()))?;
        let successor = match &plain.successor {
            Some(text) => {
                let mut s = Zeroizing::new([0u8; 32]);
                hex::decode_to_slice(text.as_bytes(), s.as_mut())
                    .map_err(|_| invalid("successor master secret".into()))?;
                Some(s)
            }
            None => None,
        };
        Ok(Keystore {
            path: path.to_path_buf(),
            role,
            kdf: file.kdf,
            master,
            successor,
            state: plain.state,
            key,
        })
    }

    /// Encrypts and writes the keystore atomically (temp file, fsync, rename), mode 0600. The
    /// temp file (the keystore's path with the extension `tmp`) is always a new file, never
    /// reached through a link; a regular file left there by a crashed save is replaced, anything
    /// else is refused ([`KeystoreError::InTheWay`]).
    pub fn save(&self) -> Result<(), KeystoreError> {
        let io = |source| KeystoreError::Io {
            path: self.path.clone(),
            source,
        };
        let crypto = |e: serde_json::Error| KeystoreError::Crypto(e.to_string());
        let record = Plain {
            master: secret_hex(&self.master)?,
            state: self.state.clone(),
            successor: match &self.successor {
                Some(s) => Some(secret_hex(s)?),
                None => None,
            },
        };
        let mut size = Count(0);
        serde_json::to_writer(&mut size, &record).map_err(crypto)?;
        let mut plain = Zeroizing::new(Vec::with_capacity(size.0));
        serde_json::to_writer(&mut *plain, &record).map_err(crypto)?;
        let nonce = random::<24>()?;
        let role = self.role.name().to_string();
        let cipher = XChaCha20Poly1305::new(self.key.as_ref().into());
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad(FORMAT, &role, &self.kdf),
                },
            )
            .map_err(|e| KeystoreError::Crypto(e.to_string()))?;
        let file = File {
            format: FORMAT.into(),
            role,
            kdf: self.kdf.clone(),
            cipher: "xchacha20poly1305".into(),
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(ciphertext),
        };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| KeystoreError::Crypto(e.to_string()))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = self.path.with_extension("tmp");
        let mut f = create_temp(&tmp)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        Ok(())
    }

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

/// Argon2id parameters with a fresh salt.
fn new_kdf(memory_kib: u32) -> Result<Kdf, KeystoreError> {
    Ok(Kdf {
        algorithm: "argon2id".into(),
        memory_kib: memory_kib.max(MIN_MEMORY_KIB),
        iterations: 3,
        parallelism: 1,
        salt: hex::encode(random::<16>()?),
    })
}

/// Creates `tmp`, the temporary file of a save: a new file, mode 0600, never reached through a
/// link. `create_new` (O_CREAT | O_EXCL) fails on anything already at `tmp` and does not follow a
/// symbolic link there. A regular file there is what a crashed save left: it is removed (never
/// opened) and creation is tried once more. Anything else, a symbolic link included, is left
/// alone and refused ([`KeystoreError::InTheWay`]).
fn create_temp(tmp: &Path) -> Result<std::fs::File, KeystoreError> {
    let io = |source| KeystoreError::Io {
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
    let stale = std::fs::symlink_metadata(tmp).map_err(io)?.file_type();
    if !stale.is_file() {
        let what = if stale.is_symlink() {
            "a symbolic link"
        } else {
            "not a regular file"
        };
        return Err(KeystoreError::InTheWay {
            path: tmp.to_path_buf(),
            what,
        });
    }
    std::fs::remove_file(tmp).map_err(io)?;
    options.open(tmp).map_err(io)
}

/// The recovery key: the master secret as a bech32m string with prefix `recovery`.
pub fn recovery_key(master: &[u8; 32]) -> Zeroizing<String> {
    Zeroizing::new(consent_proto::ids::encode_text("recovery", master))
}

/// Parses a recovery key of format v1 (one master secret).
pub fn parse_recovery_key(text: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    let bytes = consent_proto::ids::decode_text(text.trim(), "recovery")
        .map_err(|e| format!("not a recovery key: {e}"))?;
    Ok(Zeroizing::new(bytes))
}

/// Version byte of a format v2 recovery key.
const RECOVERY_V2: u8 = 2;

/// The recovery key of a keystore with a successor master secret (format v2): bech32m, prefix
/// `recovery`, over `2 || master || successor`.
pub fn recovery_key_v2(master: &[u8; 32], successor: &[u8; 32]) -> Zeroizing<String> {
    let mut data = Zeroizing::new(Vec::with_capacity(65));
    data.push(RECOVERY_V2);
    data.extend_from_slice(master);
    data.extend_from_slice(successor);
    let text = bech32::Hrp::parse("recovery")
        .ok()
        .and_then(|hrp| bech32::encode::<bech32::Bech32m>(hrp, &data).ok())
        .unwrap_or_default();
    Zeroizing::new(text)
}

/// What a recovery key restores.
pub struct Recovered {
    /// The master secret.
    pub master: Zeroizing<[u8; 32]>,
    /// The successor master secret (format v2 only).
    pub successor: Option<Zeroizing<[u8; 32]>>,
}

/// Parses a recovery key of either format.
pub fn parse_recovery(text: &str) -> Result<Recovered, String> {
    if let Ok(master) = parse_recovery_key(text) {
        return Ok(Recovered {
            master,
            successor: None,
        });
    }
    let checked = bech32::primitives::decode::CheckedHrpstring::new::<bech32::Bech32m>(text.trim())
        .map_err(|e| format!("not a recovery key: {e}"))?;
    if checked.hrp().to_lowercase() != "recovery" {
        return Err("not a recovery key: it does not start with recovery1".into());
    }
    let data = Zeroizing::new(checked.byte_iter().collect::<Vec<u8>>());
    if data.len() != 65 || data[0] != RECOVERY_V2 {
        return Err(format!(
            "not a recovery key: {} bytes (32, or 65 of format 2)",
            data.len()
        ));
    }
    let mut master = Zeroizing::new([0u8; 32]);
    let mut successor = Zeroizing::new([0u8; 32]);
    master.copy_from_slice(&data[1..33]);
    successor.copy_from_slice(&data[33..65]);
    Ok(Recovered {
        master,
        successor: Some(successor),
    })
}

/// A fresh random master secret (a child's successor at takeover).
pub fn fresh_master() -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    Ok(Zeroizing::new(random::<32>()?))
}

#[cfg(test)]
mod tests {
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
