//! The file on disk (`consent-keystore/v1`): its header and KDF parameters, the passphrase's
//! Argon2id key, the XChaCha20-Poly1305 sealing of the plaintext (secrets in wiped buffers), and
//! how a keystore is created, opened, copied and saved (a new private temporary file, renamed
//! over the keystore).

use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use consent_proto::vocab::Role;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{Keystore, KeystoreError, State};

/// Format tag of the file.
pub const FORMAT: &str = "consent-keystore/v1";
/// Default Argon2id memory cost (64 MiB).
pub const DEFAULT_MEMORY_KIB: u32 = 64 * 1024;
/// Smallest memory cost accepted when reading a file (8 MiB): a weaker file is refused.
pub const MIN_MEMORY_KIB: u32 = 8 * 1024;
/// Largest keystore file read.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

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

/// The plaintext. The master secret's hex is wiped when dropped, on success and on error alike.
#[derive(Serialize, Deserialize)]
pub(super) struct Plain {
    #[serde(serialize_with = "secret_str", deserialize_with = "secret_string")]
    pub(super) master: Zeroizing<String>,
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

pub(super) fn random<const N: usize>() -> Result<[u8; N], KeystoreError> {
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

/// Reads and checks a keystore file's header (its size, format, cipher and KDF parameters).
fn read_file(path: &Path) -> Result<File, KeystoreError> {
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
    Ok(file)
}

/// Decrypts a keystore file with `key` (derived from its passphrase).
fn unseal(path: &Path, file: &File, key: Zeroizing<[u8; 32]>) -> Result<Keystore, KeystoreError> {
    let invalid = |message: String| KeystoreError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let role = Role::from_name(&file.role).map_err(|e| invalid(e.to_string()))?;
    let nonce: [u8; 24] = hex::decode(&file.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| invalid("nonce".into()))?;
    let ciphertext = hex::decode(&file.ciphertext).map_err(|e| invalid(e.to_string()))?;
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
        kdf: file.kdf.clone(),
        master,
        successor,
        state: plain.state,
        key,
    })
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
        let file = read_file(path)?;
        let key = derive_key(passphrase, &file.kdf)?;
        unseal(path, &file, key)
    }

    /// Reads the keystore's state again from its file, with the key it was opened with: another
    /// `consent` command may have saved it since this one opened it (a rotation, a setting), and
    /// a command that waited for the send queue's lock must not write back what it read before.
    /// Fails when the file now has another master secret, role or key.
    pub fn reload(&mut self) -> Result<(), KeystoreError> {
        let file = read_file(&self.path)?;
        if file.kdf != self.kdf || file.role != self.role.name() {
            return Err(KeystoreError::Invalid {
                path: self.path.clone(),
                message: "it was replaced by another keystore while this command ran; run the \
                          command again"
                    .into(),
            });
        }
        let fresh = unseal(&self.path, &file, self.key.clone())?;
        if *fresh.master != *self.master {
            return Err(KeystoreError::Invalid {
                path: self.path.clone(),
                message: "it was replaced by another wallet while this command ran; run the \
                          command again"
                    .into(),
            });
        }
        self.state = fresh.state;
        self.successor = fresh.successor;
        Ok(())
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
