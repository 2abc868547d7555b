//! The signature rule: canonical points and scalars, crafted edge cases.

use super::*;

// ---- The signature rule ----

/// Whether `bytes` encode a field element below `2^255 - 19` (the sign bit aside).
pub(super) fn canonical_y(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    !(top == 0x7f && bytes[1..31].iter().all(|b| *b == 0xff) && bytes[0] >= 0xed)
}

/// A point from its encoding, as RFC 8032 decodes it (a non-canonical `y` is refused).
pub(super) fn point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    if !canonical_y(bytes) {
        return None;
    }
    CompressedEdwardsY(*bytes).decompress()
}

/// RFC 8032's `k = SHA-512(R || A || M) mod l`, with `M = domain || message`.
pub(super) fn challenge(r: &[u8], a: &[u8], message: &[u8]) -> Scalar {
    let mut hasher = Sha512::new();
    hasher.update(r);
    hasher.update(a);
    hasher.update(domain::ENTRY_SIGNATURE);
    hasher.update(message);
    let digest: [u8; 64] = hasher.finalize().into();
    Scalar::from_bytes_mod_order_wide(&digest)
}

/// RFC 8032 verification with the cofactorless equation `[s]B = R + [k]A`, as OpenSSL,
/// libsodium, Go and ed25519-dalek's `verify_strict` check it (without their extra refusals of
/// small-order points): canonical `s`, `R` and `A` decoded, no factor 8.
pub(super) fn cofactorless(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let mut r_bytes = [0u8; 32];
    let mut s_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&signature[..32]);
    s_bytes.copy_from_slice(&signature[32..]);
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
        return false;
    };
    let (Some(r), Some(a)) = (point(&r_bytes), point(key)) else {
        return false;
    };
    let k = challenge(&r_bytes, key, message);
    s * ED25519_BASEPOINT_POINT == r + k * a
}

/// This protocol's rule ([`consent_proto::sig`]), through the public API.
pub(super) fn protocol_rule(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    PublicKey::from_bytes(key).is_ok_and(|k| k.verify(domain::ENTRY_SIGNATURE, message, signature))
}

/// The clamped secret scalar of an Ed25519 seed (RFC 8032 5.1.5).
pub(super) fn secret_scalar(seed: &[u8; 32]) -> Scalar {
    let expanded: [u8; 64] = Sha512::digest(seed).into();
    let mut a = [0u8; 32];
    a.copy_from_slice(&expanded[..32]);
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    Scalar::from_bytes_mod_order(a)
}

/// `R || s` with `s = r + k·a`.
pub(super) fn craft(r_bytes: [u8; 32], key: &[u8; 32], r: Scalar, a: Scalar) -> [u8; 64] {
    let s = r + challenge(&r_bytes, key, SIGNED_MESSAGE) * a;
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&r_bytes);
    out[32..].copy_from_slice(s.as_bytes());
    out
}

/// The group order `l`, little-endian.
pub(super) const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// `s + l`: the same scalar, not canonically encoded.
pub(super) fn plus_l(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for ((o, a), b) in out.iter_mut().zip(s).zip(L) {
        let v = u16::from(*a) + u16::from(b) + carry;
        *o = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0, "s < l, so s + l < 2^253");
    out
}

pub(super) fn signatures() -> Vec<Value> {
    let seed = *blake3::hash(SIGNER.as_bytes()).as_bytes();
    let signer = SecretKey::from_seed(&seed);
    let a = secret_scalar(&seed);
    let key = signer.public().to_bytes();
    assert_eq!(
        (a * ED25519_BASEPOINT_POINT).compress().to_bytes(),
        key,
        "the secret scalar"
    );
    let base = |r: Scalar| (r * ED25519_BASEPOINT_POINT).compress().to_bytes();
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut above_p = [0xffu8; 32];
    above_p[0] = 0xee;
    above_p[31] = 0x7f;

    let honest = signer.sign(domain::ENTRY_SIGNATURE, SIGNED_MESSAGE);
    let r = Scalar::from(123_456_789u64);
    let torsion_r = (r * ED25519_BASEPOINT_POINT + EIGHT_TORSION[1])
        .compress()
        .to_bytes();
    let torsion = craft(torsion_r, &key, r, a);
    let small_r = craft(identity, &key, Scalar::ZERO, a);
    let mut big_s = honest;
    big_s[32..].copy_from_slice(&plus_l(&honest[32..]));
    let above_r = craft(above_p, &key, Scalar::ZERO, a);
    let r = Scalar::from(987_654_321u64);
    let small_key = craft(base(r), &identity, r, Scalar::ZERO);
    let mixed = (a * ED25519_BASEPOINT_POINT + EIGHT_TORSION[1])
        .compress()
        .to_bytes();
    // The first nonce from 555555555 on whose challenge k is not a multiple of 8, so that
    // k·T != 0 and the cofactorless equation fails.
    let (mixed_sig, _) = (555_555_555u64..)
        .map(|n| {
            let r = Scalar::from(n);
            (craft(base(r), &mixed, r, a), n)
        })
        .find(|(sig, _)| !cofactorless(&mixed, SIGNED_MESSAGE, sig))
        .expect("7 in 8 nonces do");

    let cases = [
        (
            "honest",
            "an RFC 8032 signature: valid under every rule",
            key,
            honest,
            true,
            true,
        ),
        (
            "torsion-in-r",
            "R = r·B + T with T of order 8, s = r + k·a: the cofactored equation holds, the cofactorless one does not",
            key,
            torsion,
            true,
            false,
        ),
        (
            "small-order-r",
            "R is the identity (small order) and s = k·a: refused here; the cofactorless equation holds",
            key,
            small_r,
            false,
            true,
        ),
        (
            "non-canonical-s",
            "the honest signature with s + l in place of s: refused everywhere (s must be below l)",
            key,
            big_s,
            false,
            false,
        ),
        (
            "non-canonical-r",
            "R encodes y = p + 1 (not below p; read modulo p it is the identity) and s = k·a: refused here and by RFC 8032 decoding",
            key,
            above_r,
            false,
            false,
        ),
        (
            "small-order-key",
            "A is the identity (small order), R = r·B, s = r: refused here; the cofactorless equation holds",
            identity,
            small_key,
            false,
            true,
        ),
        (
            "mixed-order-key",
            "A = a·B + T with T of order 8 (a key no honest key generation makes), R = r·B, s = r + k·a, k not a multiple of 8: valid here, not under the cofactorless equation",
            mixed,
            mixed_sig,
            true,
            false,
        ),
    ];
    cases
        .into_iter()
        .map(|(name, about, key, signature, valid, cofactorless)| {
            json!({
                "name": name,
                "about": about,
                "key": hx(key),
                "domain": String::from_utf8_lossy(domain::ENTRY_SIGNATURE),
                "message": hx(SIGNED_MESSAGE),
                "signature": hx(signature),
                "valid": valid,
                "cofactorless": cofactorless,
            })
        })
        .collect()
}
