//! The signature rule, one rule for single and batch checks.
//!
//! A signature `(R, s)` by public key `A` over `domain || message` is valid iff:
//! 1. `s` is canonical (`s < l`);
//! 2. `R` is a canonical encoding (`y < 2^255 - 19`) of a curve point that is not of small order;
//! 3. `A` is a canonical encoding of a point that is not of small order (checked when the key is
//!    introduced, see [`crate::keys::PublicKey::from_bytes`]);
//! 4. the **cofactored** equation holds: `[8](s·B − R − h·A) = 0`, with
//!    `h = SHA-512(R || A || domain || message) mod l` (RFC 8032's `h`).
//!
//! Here `B` is the base point, `l` the group order, `s`, `R` the two halves of the signature and
//! `A` the key; the signature is made by RFC 8032 signing over `domain || message`.
//!
//! Why cofactored: batch verification checks a random linear combination of equations, and only
//! the cofactored equation gives the same answer in a batch as alone (the reasoning of Zcash's
//! ZIP-215). Nodes must agree exactly on what is valid, so every check uses this rule (this
//! module's own code, not a library's `verify`), and a batch that fails is re-checked one by one
//! to find the bad signature. Batches weigh each equation with a 128-bit scalar derived by BLAKE3
//! from every input of the batch; the weights change nothing a verdict depends on.
//!
//! # Where other verifiers disagree
//!
//! An RFC 8032 signer with an RFC 8032 key makes signatures that every common verifier accepts,
//! this one included. The differences are only about crafted signatures and keys:
//! - **Cofactorless verifiers** check `s·B = R + h·A` (OpenSSL, so Python's `cryptography`;
//!   libsodium; Go's `crypto/ed25519`; ed25519-dalek's `verify_strict`). When `s·B − R − h·A` is a
//!   point of small order other than the identity, they refuse and this rule accepts. That
//!   happens when `R` carries a torsion component (`R = r·B + T`, `T` of order 2, 4 or 8: test
//!   vector `torsion-in-r`), or the key does (a mixed-order key `A = a·B + T`, which no key
//!   generation makes but an inception may carry: `mixed-order-key`; then it depends on `h mod
//!   8`). Only whoever holds the key (or crafted it) can make such signatures.
//! - **Verifiers without the small-order refusals** (RFC 8032 read literally, ed25519-dalek's
//!   `verify`): a small-order `R` that satisfies the equation (`small-order-r`) or a small-order
//!   key (`small-order-key`, which [`crate::keys::PublicKey::from_bytes`] refuses) is accepted
//!   there and refused here.
//! - **ZIP-215 verifiers** (ed25519-zebra, ed25519-consensus) are cofactored too, but accept
//!   non-canonical encodings of `R` and `A` and small-order points, which this rule refuses
//!   (`non-canonical-r`).
//! - Every verifier refuses `s ≥ l` (`non-canonical-s`).
//!
//! The test vectors (`proto/vectors/vectors.json`, `signatures`) give each case with this rule's
//! verdict (`valid`) and the cofactorless equation's (`cofactorless`). A node that verified with
//! a cofactorless library would refuse entries the others accept, and so disagree with them
//! about feeds, heads and decisions.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

use crate::keys::PublicKey;

/// Signatures checked together in one batch.
pub const BATCH: usize = 64;

/// One signature to check.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// The signer's key.
    pub key: &'a PublicKey,
    /// Domain-separation prefix.
    pub domain: &'a [u8],
    /// The signed bytes after the prefix.
    pub message: &'a [u8],
    /// The 64-byte signature `R || s`.
    pub signature: &'a [u8; 64],
}

/// Whether `bytes` encode a field element `y < p` (the sign bit aside).
pub(crate) fn canonical_y(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    !(top == 0x7f && bytes[1..31].iter().all(|b| *b == 0xff) && bytes[0] >= 0xed)
}

struct Prepared {
    r: EdwardsPoint,
    s: Scalar,
    h: Scalar,
    a: EdwardsPoint,
}

fn prepare(item: &Item<'_>) -> Option<Prepared> {
    let (r_bytes, s_bytes) = item.signature.split_at(32);
    let r_bytes: [u8; 32] = r_bytes.try_into().ok()?;
    let s_bytes: [u8; 32] = s_bytes.try_into().ok()?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))?;
    if !canonical_y(&r_bytes) {
        return None;
    }
    let r = CompressedEdwardsY(r_bytes).decompress()?;
    if r.is_small_order() {
        return None;
    }
    let key = item.key.to_bytes();
    let mut hasher = Sha512::new();
    hasher.update(r_bytes);
    hasher.update(key);
    hasher.update(item.domain);
    hasher.update(item.message);
    let digest: [u8; 64] = hasher.finalize().into();
    let h = Scalar::from_bytes_mod_order_wide(&digest);
    Some(Prepared {
        r,
        s,
        h,
        a: item.key.as_dalek().to_edwards(),
    })
}

fn check_one(p: &Prepared) -> bool {
    // R' = s·B − h·A; valid iff [8](R' − R) = 0.
    let r_prime = EdwardsPoint::vartime_double_scalar_mul_basepoint(&(-p.h), &p.a, &p.s);
    (r_prime - p.r).mul_by_cofactor().is_identity()
}

fn check_batch(items: &[Item<'_>], prepared: &[Prepared]) -> bool {
    let mut transcript = blake3::Hasher::new();
    transcript.update(b"consent-ledger/batch-weights/v1");
    for item in items {
        transcript.update(item.signature);
        transcript.update(&item.key.to_bytes());
        transcript.update(blake3::hash(item.message).as_bytes());
        transcript.update(item.domain);
    }
    let mut weights = transcript.finalize_xof();
    let z: Vec<Scalar> = prepared
        .iter()
        .map(|_| {
            let mut w = [0u8; 16];
            weights.fill(&mut w);
            Scalar::from(u128::from_le_bytes(w))
        })
        .collect();
    let b: Scalar = prepared.iter().zip(&z).map(|(p, z)| z * p.s).sum();
    let scalars = std::iter::once(-b)
        .chain(z.iter().copied())
        .chain(prepared.iter().zip(&z).map(|(p, z)| z * p.h));
    let points = std::iter::once(ED25519_BASEPOINT_POINT)
        .chain(prepared.iter().map(|p| p.r))
        .chain(prepared.iter().map(|p| p.a));
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

/// Checks one signature.
pub fn verify(item: &Item<'_>) -> bool {
    prepare(item).is_some_and(|p| check_one(&p))
}

/// Checks many signatures, in batches of [`BATCH`]; a failed batch is re-checked one by one.
/// Returns one verdict per item, in order.
pub fn verify_all(items: &[Item<'_>]) -> Vec<bool> {
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(BATCH) {
        let prepared: Vec<Option<Prepared>> = chunk.iter().map(prepare).collect();
        if chunk.len() > 1 && prepared.iter().all(Option::is_some) {
            let ready: Vec<Prepared> = prepared.into_iter().flatten().collect();
            if check_batch(chunk, &ready) {
                out.extend(std::iter::repeat_n(true, chunk.len()));
            } else {
                out.extend(ready.iter().map(check_one));
            }
        } else {
            out.extend(prepared.iter().map(|p| p.as_ref().is_some_and(check_one)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use ed25519_dalek::{Signature, Verifier};
    use proptest::prelude::*;

    fn signed(n: u32) -> (SecretKey, Vec<u8>, [u8; 64]) {
        let key = SecretKey::from_seed(blake3::hash(&n.to_le_bytes()).as_bytes());
        let message = format!("message {n}").into_bytes();
        let sig = key.sign(b"dom", &message);
        (key, message, sig)
    }

    fn strict(key: &PublicKey, message: &[u8], sig: &[u8; 64]) -> bool {
        let mut m = b"dom".to_vec();
        m.extend_from_slice(message);
        key.as_dalek()
            .verify_strict(&m, &Signature::from_bytes(sig))
            .is_ok()
    }

    #[test]
    fn honest_signatures_pass_alone_and_in_batches() {
        let sigs: Vec<_> = (0..150).map(signed).collect();
        let keys: Vec<_> = sigs.iter().map(|(k, _, _)| k.public()).collect();
        let items: Vec<_> = sigs
            .iter()
            .zip(&keys)
            .map(|((_, m, s), k)| Item {
                key: k,
                domain: b"dom",
                message: m,
                signature: s,
            })
            .collect();
        assert!(items.iter().all(verify));
        assert!(verify_all(&items).into_iter().all(|ok| ok));
        // RFC 8032 verification (OpenSSL, dalek's verify) agrees on honest signatures.
        for ((_, m, s), k) in sigs.iter().zip(&keys) {
            let mut full = b"dom".to_vec();
            full.extend_from_slice(m);
            assert!(
                k.as_dalek()
                    .verify(&full, &Signature::from_bytes(s))
                    .is_ok()
            );
        }
    }

    #[test]
    fn one_bad_signature_in_a_batch_is_found() {
        let sigs: Vec<_> = (0..100).map(signed).collect();
        let keys: Vec<_> = sigs.iter().map(|(k, _, _)| k.public()).collect();
        let mut bad = sigs.clone();
        bad[70].2[5] ^= 1; // corrupt R
        bad[3].1.push(b'!'); // change a message
        let items: Vec<_> = bad
            .iter()
            .zip(&keys)
            .map(|((_, m, s), k)| Item {
                key: k,
                domain: b"dom",
                message: m,
                signature: s,
            })
            .collect();
        let verdicts = verify_all(&items);
        let failed: Vec<_> = verdicts
            .iter()
            .enumerate()
            .filter(|(_, ok)| !**ok)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(failed, vec![3, 70]);
    }

    #[test]
    fn non_canonical_s_small_order_r_and_non_canonical_r_are_rejected() {
        let (key, m, sig) = signed(1);
        let pk = key.public();
        // s + l is the same scalar, non-canonically encoded.
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let s = Scalar::from_canonical_bytes(sig[32..].try_into().expect("32")).expect("canonical");
        let mut big = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = s.as_bytes()[i] as u16 + l[i] as u16 + carry;
            big[i] = v as u8;
            carry = v >> 8;
        }
        let mut malleated = sig;
        malleated[32..].copy_from_slice(&big);
        if carry == 0 {
            assert!(!verify(&Item {
                key: &pk,
                domain: b"dom",
                message: &m,
                signature: &malleated
            }));
        }
        // R = identity (small order).
        let mut small = sig;
        small[..32].copy_from_slice(&[
            1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0,
        ]);
        assert!(!verify(&Item {
            key: &pk,
            domain: b"dom",
            message: &m,
            signature: &small
        }));
        assert!(!canonical_y(&[
            0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0x7f
        ]));
        assert!(canonical_y(&[
            0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0x7f
        ]));
    }

    #[test]
    fn torsion_in_r_is_where_the_rule_differs_from_verify_strict() {
        // Only the key holder can build this: R = r·B + T with T of order 8.
        let seed = [42u8; 32];
        let key = SecretKey::from_seed(&seed);
        let pk = key.public();
        let expanded: [u8; 64] = Sha512::digest(seed).into();
        let mut a_bytes: [u8; 32] = expanded[..32].try_into().expect("32");
        a_bytes[0] &= 248;
        a_bytes[31] &= 127;
        a_bytes[31] |= 64;
        let a = Scalar::from_bytes_mod_order(a_bytes);
        let r = Scalar::from(123456789u64);
        let torsion = curve25519_dalek::constants::EIGHT_TORSION[1];
        let big_r = (r * ED25519_BASEPOINT_POINT + torsion).compress();
        let message = b"crafted";
        let mut hasher = Sha512::new();
        hasher.update(big_r.as_bytes());
        hasher.update(pk.to_bytes());
        hasher.update(b"dom");
        hasher.update(message);
        let h = Scalar::from_bytes_mod_order_wide(&hasher.finalize().into());
        let s = r + h * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(big_r.as_bytes());
        sig[32..].copy_from_slice(s.as_bytes());
        assert!(
            !strict(&pk, message, &sig),
            "verify_strict rejects a torsion component in R"
        );
        assert!(
            verify(&Item {
                key: &pk,
                domain: b"dom",
                message,
                signature: &sig
            }),
            "the cofactored rule accepts it"
        );
        // ...and a batch gives the same answer as the single check, whatever else is in it.
        let others: Vec<_> = (0..10).map(signed).collect();
        let keys: Vec<_> = others.iter().map(|(k, _, _)| k.public()).collect();
        let mut items: Vec<_> = others
            .iter()
            .zip(&keys)
            .map(|((_, m, s), k)| Item {
                key: k,
                domain: b"dom",
                message: m,
                signature: s,
            })
            .collect();
        items.push(Item {
            key: &pk,
            domain: b"dom",
            message,
            signature: &sig,
        });
        assert!(verify_all(&items).into_iter().all(|ok| ok));
    }

    proptest! {
        #[test]
        fn agrees_with_verify_strict_on_tampered_signatures(n in 0u32..1000, pos in 0usize..64, bit in 0u8..8) {
            let (key, m, mut sig) = signed(n);
            let pk = key.public();
            sig[pos] ^= 1 << bit;
            let ours = verify(&Item { key: &pk, domain: b"dom", message: &m, signature: &sig });
            prop_assert_eq!(ours, strict(&pk, &m, &sig));
        }
    }
}
