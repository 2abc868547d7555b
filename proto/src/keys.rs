//! Ed25519 keys: public keys verified strictly, secret keys zeroised on drop and never printed.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::domain;
use crate::ids::{Digest, TextError, decode_expecting, encode};

/// A public key that is not a valid Ed25519 point, or is of small order (weak).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a usable Ed25519 public key (invalid or weak point)")]
pub struct BadKey;

/// An Ed25519 public key that is a valid point and not of small order.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// From 32 bytes; rejects non-canonical encodings, invalid points and weak (small-order) keys.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, BadKey> {
        if !crate::sig::canonical_y(bytes) {
            return Err(BadKey);
        }
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| BadKey)?;
        if key.is_weak() {
            return Err(BadKey);
        }
        Ok(Self(key))
    }

    /// From a wire field.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, BadKey> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| BadKey)?;
        Self::from_bytes(&arr)
    }

    /// The 32 encoded bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Checks `signature` over `domain || message` by the protocol's rule ([`crate::sig`]).
    pub fn verify(&self, domain: &[u8], message: &[u8], signature: &[u8; 64]) -> bool {
        crate::sig::verify(&crate::sig::Item {
            key: self,
            domain,
            message,
            signature,
        })
    }

    /// `BLAKE3("consent-ledger/next-key/v1" || key)`: what an inception or rotation pre-commits.
    pub fn next_key_digest(&self) -> Digest {
        let mut h = blake3::Hasher::new();
        h.update(domain::NEXT_KEY);
        h.update(self.0.as_bytes());
        Digest(*h.finalize().as_bytes())
    }

    /// The dalek key, for batch verification.
    pub fn as_dalek(&self) -> &VerifyingKey {
        &self.0
    }

    /// Text form with a chosen prefix (`key` for authors, `node` for nodes).
    pub fn to_text(&self, prefix: &str) -> String {
        encode(prefix, self.0.as_bytes())
    }

    /// Parses a `key1…` text form.
    pub fn from_text(text: &str, prefix: &'static str) -> Result<Self, TextError> {
        let bytes = decode_expecting(text, prefix, "public key")?;
        Self::from_bytes(&bytes)
            .map_err(|_| TextError::Encoding("not a usable Ed25519 public key".into()))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text("key"))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = TextError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_text(s, "key")
    }
}

/// An Ed25519 secret key. Zeroised on drop (dalek's `zeroize` feature); `Debug` is redacted.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// From a 32-byte seed (the caller zeroises its copy).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The seed, for storing in an encrypted keystore. Handle with care and zeroise.
    pub fn to_seed(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.0.to_bytes())
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `domain || message`.
    pub fn sign(&self, domain: &[u8], message: &[u8]) -> [u8; 64] {
        let mut signed = Vec::with_capacity(domain.len() + message.len());
        signed.extend_from_slice(domain);
        signed.extend_from_slice(message);
        self.0.sign(&signed).to_bytes()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(<redacted>, public {})", self.public())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_with_domain() {
        let sk = SecretKey::from_seed(&[3; 32]);
        let sig = sk.sign(b"dom", b"msg");
        assert!(sk.public().verify(b"dom", b"msg", &sig));
        assert!(!sk.public().verify(b"other", b"msg", &sig));
        assert!(!sk.public().verify(b"dom", b"msh", &sig));
    }

    #[test]
    fn weak_keys_are_rejected() {
        // The identity point (small order) encodes as 1 followed by zeros.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(BadKey));
        assert_eq!(PublicKey::from_slice(&[1, 2, 3]), Err(BadKey));
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let sk = SecretKey::from_seed(&[0xAB; 32]);
        let dbg = format!("{sk:?}");
        assert!(dbg.contains("redacted"));
        assert!(!dbg.to_lowercase().contains("abab"));
    }

    #[test]
    fn key_text_round_trips() {
        let pk = SecretKey::from_seed(&[9; 32]).public();
        assert_eq!(pk.to_string().parse::<PublicKey>(), Ok(pk));
        assert_eq!(PublicKey::from_text(&pk.to_text("node"), "node"), Ok(pk));
    }
}
