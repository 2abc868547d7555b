//! Signed checkpoints: a node's commitment to its arrival log — origin (the node id), tree size,
//! root hash ([`crate::merkle`]) and time — as a C2SP signed note (c2sp.org/signed-note,
//! c2sp.org/tlog-checkpoint), signed by the node key, with witnesses' cosignatures
//! (c2sp.org/tlog-cosignature, `cosignature/v1`) as further signature lines:
//!
//! ```text
//! node1qx…            origin: the node id (bech32m of its Ed25519 key)
//! 51234               tree size
//! 3q2+7w…=            root hash, base64
//! time 1795959010768  extension line: when the node signed, Unix ms
//!
//! — node1qx… <base64(key id (4) ‖ Ed25519 signature over the body)>
//! — node1zz… <base64(key id (4) ‖ time s (8, BE) ‖ Ed25519 signature over
//!             "cosignature/v1\ntime <s>\n" ‖ body)>
//! ```
//!
//! A key id is `SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[..4]` for a note signature and with `0x04` for a
//! cosignature. Names are node ids, so a name tells the key it must verify under. Notes are at most
//! [`MAX_NOTE_BYTES`] with at most [`MAX_SIGNATURES`] lines.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest as _, Sha256};

use crate::keys::{PublicKey, SecretKey};
use crate::merkle::Hash;

/// Longest note accepted, bytes.
pub const MAX_NOTE_BYTES: usize = 16 * 1024;
/// Most signature lines accepted.
pub const MAX_SIGNATURES: usize = 32;
/// Longest origin or signer name, bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// The human-readable prefix of node ids.
pub const NODE_PREFIX: &str = "node";

const ALG_ED25519: u8 = 0x01;
const ALG_COSIGNATURE: u8 = 0x04;
const DASH: &str = "\u{2014} ";

/// Why a note is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Not a well-formed checkpoint note.
    #[error("malformed checkpoint note: {0}")]
    Malformed(&'static str),
    /// No valid signature by the origin.
    #[error("the checkpoint is not signed by its origin's key")]
    NotSigned,
}

/// A node's commitment to its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The node id.
    pub origin: String,
    /// Leaves in the tree.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// When the node signed, Unix ms.
    pub time_ms: u64,
}

impl Checkpoint {
    /// The signed text.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\ntime {}\n",
            self.origin,
            self.size,
            B64.encode(self.root),
            self.time_ms
        )
    }

    fn parse_body(body: &str) -> Result<Self, NoteError> {
        let bad = NoteError::Malformed;
        let lines: Vec<&str> = body
            .strip_suffix('\n')
            .ok_or(bad("the body does not end with a newline"))?
            .split('\n')
            .collect();
        let [origin, size, root, time] = lines[..] else {
            return Err(bad("a checkpoint has four lines"));
        };
        if origin.is_empty() || origin.len() > MAX_NAME_BYTES || origin.contains(' ') {
            return Err(bad("bad origin"));
        }
        if size.starts_with('0') && size != "0" {
            return Err(bad("size with a leading zero"));
        }
        let size = size.parse().map_err(|_| bad("size is not a number"))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(bad("root is not 32 bytes of base64"))?;
        let time_ms = time
            .strip_prefix("time ")
            .and_then(|t| t.parse().ok())
            .ok_or(bad("no time line"))?;
        Ok(Self {
            origin: origin.to_string(),
            size,
            root,
            time_ms,
        })
    }
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The signer's name (a node id).
    pub name: String,
    /// Key id (see the module docs).
    pub key_id: [u8; 4],
    /// For a cosignature, its time (Unix seconds); `None` for the origin's signature.
    pub cosigned_at: Option<u64>,
    /// Ed25519 signature.
    pub signature: [u8; 64],
}

/// `SHA-256(name ‖ "\n" ‖ alg ‖ key)[..4]`.
pub fn key_id(name: &str, alg: u8, key: &PublicKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(key.to_bytes());
    let d: [u8; 32] = h.finalize().into();
    [d[0], d[1], d[2], d[3]]
}

/// The key a node id names.
pub fn key_of(name: &str) -> Option<PublicKey> {
    PublicKey::from_text(name, NODE_PREFIX).ok()
}

fn cosigned_message(time_s: u64, body: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {time_s}\n{body}").into_bytes()
}

/// A checkpoint with its signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// What is signed.
    pub checkpoint: Checkpoint,
    /// The origin's signature and cosignatures, in order.
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Signs `checkpoint` with the origin's key (its name is `checkpoint.origin`).
    pub fn sign(checkpoint: Checkpoint, key: &SecretKey) -> Self {
        let name = checkpoint.origin.clone();
        let signature = key.sign(b"", checkpoint.body().as_bytes());
        Self {
            signatures: vec![NoteSignature {
                key_id: key_id(&name, ALG_ED25519, &key.public()),
                name,
                cosigned_at: None,
                signature,
            }],
            checkpoint,
        }
    }

    /// A cosignature of this checkpoint by witness `name` holding `key`, at `time_s`.
    pub fn cosignature(&self, name: &str, key: &SecretKey, time_s: u64) -> NoteSignature {
        let message = cosigned_message(time_s, &self.checkpoint.body());
        NoteSignature {
            name: name.to_string(),
            key_id: key_id(name, ALG_COSIGNATURE, &key.public()),
            cosigned_at: Some(time_s),
            signature: key.sign(b"", &message),
        }
    }

    /// Adds a cosignature if it is valid for `key` and not already there (false otherwise).
    pub fn add_cosignature(&mut self, cosignature: NoteSignature, key: &PublicKey) -> bool {
        let fresh = !self
            .signatures
            .iter()
            .any(|s| s.name == cosignature.name && s.cosigned_at.is_some());
        if fresh
            && self.signatures.len() < MAX_SIGNATURES
            && self.valid_cosignature(&cosignature, key)
        {
            self.signatures.push(cosignature);
            return true;
        }
        false
    }

    /// The note's text.
    pub fn to_text(&self) -> String {
        let mut out = self.checkpoint.body();
        out.push('\n');
        for s in &self.signatures {
            let mut blob = s.key_id.to_vec();
            if let Some(t) = s.cosigned_at {
                blob.extend_from_slice(&t.to_be_bytes());
            }
            blob.extend_from_slice(&s.signature);
            out.push_str(&format!("{DASH}{} {}\n", s.name, B64.encode(blob)));
        }
        out
    }

    /// Parses a note (signatures are not checked: see [`Self::verify`]).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = NoteError::Malformed;
        if text.len() > MAX_NOTE_BYTES {
            return Err(bad("longer than 16 KiB"));
        }
        let split = text
            .find("\n\n")
            .ok_or(bad("no blank line before the signatures"))?;
        let (body, lines) = (&text[..=split], &text[split + 2..]);
        let checkpoint = Checkpoint::parse_body(body)?;
        let lines = lines
            .strip_suffix('\n')
            .ok_or(bad("the note does not end with a newline"))?;
        let mut signatures = Vec::new();
        for line in lines.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(bad("too many signatures"));
            }
            let rest = line
                .strip_prefix(DASH)
                .ok_or(bad("a signature line starts with an em dash"))?;
            let (name, blob) = rest.split_once(' ').ok_or(bad("signature line"))?;
            if name.is_empty() || name.len() > MAX_NAME_BYTES {
                return Err(bad("bad signer name"));
            }
            let blob = B64
                .decode(blob)
                .map_err(|_| bad("signature is not base64"))?;
            let (key_id, cosigned_at, signature) = match blob.len() {
                68 => (&blob[..4], None, &blob[4..]),
                76 => {
                    let mut t = [0u8; 8];
                    t.copy_from_slice(&blob[4..12]);
                    (&blob[..4], Some(u64::from_be_bytes(t)), &blob[12..])
                }
                _ => return Err(bad("signature of unknown length")),
            };
            signatures.push(NoteSignature {
                name: name.to_string(),
                key_id: key_id.try_into().map_err(|_| bad("key id"))?,
                cosigned_at,
                signature: signature.try_into().map_err(|_| bad("signature"))?,
            });
        }
        Ok(Self {
            checkpoint,
            signatures,
        })
    }

    /// Checks that the origin signed it with `key`.
    pub fn verify(&self, key: &PublicKey) -> Result<(), NoteError> {
        let id = key_id(&self.checkpoint.origin, ALG_ED25519, key);
        let body = self.checkpoint.body();
        self.signatures
            .iter()
            .any(|s| {
                s.cosigned_at.is_none()
                    && s.name == self.checkpoint.origin
                    && s.key_id == id
                    && key.verify(b"", body.as_bytes(), &s.signature)
            })
            .then_some(())
            .ok_or(NoteError::NotSigned)
    }

    /// Checks that the origin, named by its node id, signed it.
    pub fn verify_by_origin(&self) -> Result<PublicKey, NoteError> {
        let key = key_of(&self.checkpoint.origin).ok_or(NoteError::NotSigned)?;
        self.verify(&key).map(|()| key)
    }

    /// Whether `cosignature` is a valid cosignature of this checkpoint under `key`.
    pub fn valid_cosignature(&self, cosignature: &NoteSignature, key: &PublicKey) -> bool {
        let Some(t) = cosignature.cosigned_at else {
            return false;
        };
        cosignature.key_id == key_id(&cosignature.name, ALG_COSIGNATURE, key)
            && key.verify(
                b"",
                &cosigned_message(t, &self.checkpoint.body()),
                &cosignature.signature,
            )
    }

    /// The witnesses among `witnesses` (names and keys) with a valid cosignature here.
    pub fn cosigned_by<'a>(&self, witnesses: &'a [(String, PublicKey)]) -> Vec<&'a str> {
        witnesses
            .iter()
            .filter(|(name, key)| {
                self.signatures
                    .iter()
                    .any(|s| s.name == *name && self.valid_cosignature(s, key))
            })
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests;
