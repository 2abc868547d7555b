#!/usr/bin/env python3
"""Checks the protocol's test vectors (proto/vectors/vectors.json) with code written from the
consent-proto crate docs ("Protocol specification") alone, independent of the Rust code that
generated them:

- entries: payloads rebuilt from their fields with the generated protobuf code, ids, feed ids,
  signatures, text forms, the hash chain and the keys in force (rotations included);
- the dev registrar and a pairwise citizen feed, derived from their documented seeds;
- canonical and refused encodings, each with the refusal reason;
- the signature rule (cofactored, canonical, no small-order points), by a pure-Python Ed25519,
  and where a cofactorless library (this client's own `cryptography`) disagrees;
- a collector's authentication statement, entry receipts, decision receipts with their
  checkpoint, cosignature and inclusion proofs (and the context digest of a question with an
  observation context), the Merkle tree with its proofs, an equivocation;
- scope and form, with scope.py (written from the "Scope and form" section alone): H3 cells and
  parents, local times, the scoped policy and grants (their bytes, the worked bytes of the
  spec), every scope decision (decision, reason, required form), the context digests;
- consultations, with consultation.py (written from the "Consultations" section alone): the
  draft, stance, response and outcome entries and their worked bytes, every state and when a
  draft takes effect, counts and the reasons raised, the kinds of policy changes, and the
  rejection reasons of consultation validity;
- delegation, with delegation.py (written from the "Delegation" section alone): the delegation,
  undelegation and endorsement entries and statements signed in someone's name, replayed, each
  body its own field, the coming-of-age and default void-from arithmetic, and every delegated
  decision (which grant, reason and delegation; the counting endorsement of a 2-of-2 grant).

Exits non-zero on the first mismatch. Usage: vectors.py --out GENERATED_DIR [--vectors FILE]
"""
import argparse
import base64
import hashlib
import json
import os
import sys

import blake3
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

import consultation
import delegation
import scope
from python_client import (ENTRY_ID, ENTRY_SIGNATURE, FEED_ID, NEXT_KEY, RECEIPT_SIGNATURE, AUTH, ROOT, generate,
                           root_from_path,
                           message_from_json, pub)

DECISION_SIGNATURE = b"consent-ledger/decision/v1"
RECEIPT_GROUP_SIGNATURE = b"consent-ledger/receipt-group/v1"
QUESTION_TIME_TOLERANCE_MS = 300_000
MIN_TIME_MS = 1_577_836_800_000
YEAR_MS = 365 * 86_400_000
PREFIXES = {"ROLE_CITIZEN": "cit", "ROLE_COLLECTOR": "col", "ROLE_REGISTRAR": "reg"}

# ---- Ed25519, from RFC 8032 section 6, with this protocol's rule (crate docs, `sig`) ----

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1, 1, 0)


def point_add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    cc = 2 * t1 * t2 * D % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def point_mul(s, point):
    q = IDENTITY
    while s > 0:
        if s & 1:
            q = point_add(q, point)
        point = point_add(point, point)
        s >>= 1
    return q


def point_neg(a):
    x, y, z, t = a
    return (-x % P, y, z, -t % P)


def point_equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 % P == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def decode_point(b):
    """RFC 8032 5.1.3: a y that is not below p is refused."""
    y = int.from_bytes(b, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def encode_point(a):
    x, y, z, _ = a
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


G_Y = 4 * pow(5, P - 2, P) % P
BASE = (recover_x(G_Y, 0), G_Y, 1, recover_x(G_Y, 0) * G_Y % P)


def small_order(a):
    return point_equal(point_mul(8, a), IDENTITY)


def challenge(r, key, domain, message):
    return int.from_bytes(hashlib.sha512(r + key + domain + message).digest(), "little") % L


def protocol_valid(key, domain, message, sig):
    """This protocol's rule: s < l; R and A canonical and not of small order; [8](sB - R - kA) = 0."""
    a = decode_point(key)
    if a is None or small_order(a) or len(sig) != 64:
        return False
    s = int.from_bytes(sig[32:], "little")
    r = decode_point(sig[:32])
    if s >= L or r is None or small_order(r):
        return False
    k = challenge(sig[:32], key, domain, message)
    diff = point_add(point_mul(s, BASE), point_neg(point_add(r, point_mul(k, a))))
    return point_equal(point_mul(8, diff), IDENTITY)


def cofactorless_valid(key, domain, message, sig):
    """RFC 8032 verification with the cofactorless equation [s]B = R + [k]A."""
    a, r = decode_point(key), decode_point(sig[:32])
    s = int.from_bytes(sig[32:], "little")
    if a is None or r is None or s >= L:
        return False
    k = challenge(sig[:32], key, domain, message)
    return point_equal(point_mul(s, BASE), point_add(r, point_mul(k, a)))


def library_valid(key, message, sig):
    """What this client's Ed25519 library (OpenSSL, via `cryptography`) says."""
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(sig, message)
        return True
    except (InvalidSignature, ValueError):
        return False


# ---- Text forms: bech32m (BIP 350) ----

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def bech32m(hrp, data):
    acc, bits, words = 0, 0, []
    for byte in data:
        acc, bits = (acc << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            words.append((acc >> bits) & 31)
    if bits:
        words.append((acc << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    pm = _polymod(expanded + words + [0] * 6) ^ 0x2BC830A3
    checksum = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[w] for w in words + checksum)


# ---- Merkle trees (RFC 9162 section 2.1) ----


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = split(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def audit_path(m, leaves):
    if len(leaves) <= 1:
        return []
    k = split(len(leaves))
    if m < k:
        return audit_path(m, leaves[:k]) + [mth(leaves[k:])]
    return audit_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def _subproof(m, leaves, whole):
    if m == len(leaves):
        return [] if whole else [mth(leaves)]
    k = split(len(leaves))
    if m <= k:
        return _subproof(m, leaves[:k], whole) + [mth(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def consistency_path(m, leaves):
    return [] if m == 0 or m == len(leaves) else _subproof(m, leaves, True)


def verify_inclusion(index, size, leaf, proof, root):
    return root_from_path(index, size, leaf, proof) == root


def receipt_valid(kind, payload, signature, group):
    """A receipt in either form (crate docs, "Receipt groups"): without `group`, the signature over
    the kind's domain and payload; with it (present even if empty), the walk from the salted leaf
    hash to the root, and the group signature over domain || root || size. The signer's key is the
    payload's `node` (field 1 of both payloads)."""
    domain = RECEIPT_SIGNATURE if kind == "entry" else DECISION_SIGNATURE
    node = payload_node(payload)
    if node is None:
        return False
    if group is None:
        return protocol_valid(node, domain, payload, signature)
    size, index = group.get("size", 0), group.get("index", 0)
    path, salt = [b(x) for x in group.get("path", [])], b(group.get("salt", ""))
    if not 1 <= size <= 65_536 or index >= size or len(salt) != 32 or any(len(p) != 32 for p in path):
        return False
    r = root_from_path(index, size, leaf_hash(domain + salt + payload), path)
    if r is None:
        return False
    return protocol_valid(node, RECEIPT_GROUP_SIGNATURE, r + size.to_bytes(8, "big"), signature)


def payload_node(payload):
    """Field 1 (bytes, 32 long) of a ReceiptPayload or DecisionPayload, read by hand."""
    if len(payload) < 34 or payload[0] != 0x0A or payload[1] != 32:
        return None
    return payload[2:34]


def verify_consistency(old, new, old_root, new_root, proof):
    if old > new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    path = ([old_root] if old & (old - 1) == 0 else []) + list(proof)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


# ---- Checkpoint notes (C2SP signed note, tlog-checkpoint, tlog-cosignature) ----


def key_id(name, alg, key):
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + key).digest()[:4]


def parse_note(text):
    """(body, origin, size, root, time_ms, [(name, blob)])."""
    body, _, rest = text.partition("\n\n")
    body += "\n"
    origin, size, root, time_line = body[:-1].split("\n")
    assert time_line.startswith("time "), "the fourth line is `time <ms>`"
    lines = []
    for line in rest[:-1].split("\n"):
        assert line.startswith("\u2014 "), line
        name, blob = line[2:].split(" ")
        lines.append((name, base64.b64decode(blob)))
    return body, origin, int(size), base64.b64decode(root), int(time_line[5:]), lines


# ---- The checks ----


class Check:
    def __init__(self):
        self.count = 0

    def eq(self, got, want, what):
        self.count += 1
        if got != want:
            raise SystemExit(f"vectors: {what}: got {got!r}, want {want!r}")

    def true(self, cond, what):
        self.eq(bool(cond), True, what)


def h(*parts):
    return blake3.blake3(b"".join(parts)).digest()


def b(hex_text):
    return bytes.fromhex(hex_text)


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def wire_context(q, vocab_pb2):
    """A question's ObservationContext as scope.Context, and as the vectors' JSON of it."""
    x = q.context
    kind = vocab_pb2.SensorKind.Name(x.sensor_kind)
    ctx = scope.Context(x.sensor, x.cell, x.observed_ms, vocab_pb2.Form.Name(x.form), kind)
    text = {"sensor": x.sensor, "sensor_kind": kind, "cell": scope.cell_text(x.cell) if x.cell else None,
            "observed_ms": x.observed_ms, "form": vocab_pb2.Form.Name(x.form)}
    return ctx, text


def check_policy_scope_shape(c, s, what):
    """The structural rules of a policy scope that the rule relies on: zone and sensor ids >= 1
    strictly ascending, each zone's cells H3 cells of exactly its resolution, strictly ascending,
    within the limits; windows that do not wrap."""
    c.eq(s["version"], 1, f"{what}: version")
    c.true(-720 <= s["utc_offset_minutes"] <= 840 and s["utc_offset_minutes"] % 15 == 0, f"{what}: offset")
    ids = [z["id"] for z in s["zones"]]
    c.true(len(ids) <= 16 and all(a < b for a, b in zip([0] + ids, ids)), f"{what}: zone ids")
    total = 0
    for z in s["zones"]:
        cells = [int(x, 16) for x in z["cells"]]
        total += len(cells)
        c.true(1 <= len(cells) <= 256 and all(a < b for a, b in zip(cells, cells[1:])), f"{what}: zone {z['id']} cells ascending")
        c.true(all(scope.is_cell(x) and scope.resolution(x) == z["resolution"] for x in cells),
               f"{what}: zone {z['id']}: H3 cells of resolution {z['resolution']}")
        c.true(all(len(x) == 15 and x == x.lower() for x in z["cells"]), f"{what}: zone {z['id']}: cells as text")
    c.true(total <= 512, f"{what}: cells in all")
    ids = [x["id"] for x in s["sensors"]]
    c.true(len(ids) <= 64 and all(a < b for a, b in zip([0] + ids, ids)), f"{what}: sensor ids")
    c.true(all(x["zone"] == 0 or x["zone"] in [z["id"] for z in s["zones"]] for x in s["sensors"]), f"{what}: sensor zones")
    c.true(len(s["windows"]) <= 8 and all(1 <= w["days"] <= 127 and w["start_minute"] < w["end_minute"] <= 1440
                                          for w in s["windows"]), f"{what}: windows")
    for f in s["forms"]:
        ranks = [scope.RANK[o["form"]] for o in f["offers"]]
        c.true(1 <= len(ranks) <= 4 and ranks == sorted(set(ranks)), f"{what}: {f['purpose']} offers by rank")


def check_coarse_times(ct, c):
    step, day = 150_000, 86_400_000

    def floor(g, t):
        return t if g is None else t - t % g

    def ceil(g, t):
        return t if g is None else -(-t // g) * g

    for x in ct["granularities"]:
        g = x["g"]
        c.eq(g > 0 and g % step == 0 and day % g == 0, x["allowed"], f"granularity {g}")
    for x in ct["times"]:
        g = x["g"]
        e = {"coarse": g, "within": None if g is None else min(g, step), "exact": None}[x["exactness"]]
        c.eq(max(floor(e, x["now_ms"]), x["floor_ms"], MIN_TIME_MS), x["time_ms"], x["about"])
    for x in ct["valid_from"]:
        c.eq(max(ceil(x["g"], max(x["now_ms"], x["due_ms"])), x["time_ms"]), x["valid_from"], x["about"])
    for x in ct["valid_until"]:
        c.eq(floor(x["g"], x["end_ms"]), x["valid_until"], x["about"])
    # An own grant takes a delegate's opt-out as a floor only when it allows what an opt-out
    # denies (sale or sharing), and only when the opt-out was signed before it.
    for x in ct["own_grants"]:
        now, opt_out = x["now_ms"], x["opt_out_ms"]
        sale = any(p in ("PURPOSE_SELL_DATA", "PURPOSE_THIRD_PARTY_SHARING") for p in x["purposes"])
        after = opt_out + 1 if sale and opt_out is not None and opt_out < now else 0
        c.eq(max(floor(x["g"], now), x["prev_ms"], after, MIN_TIME_MS), x["time_ms"], x["about"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="where to generate the protobuf code")
    ap.add_argument("--vectors", default=os.path.join(ROOT, "proto", "vectors", "vectors.json"))
    args = ap.parse_args()
    generate(args.out)
    from google.protobuf.message import DecodeError
    from consent.v1 import consent_pb2, entry_pb2, ledger_pb2, vocab_pb2

    with open(args.vectors, encoding="utf-8") as f:
        v = json.load(f)
    c = Check()
    dom = v["domains"]
    c.eq(dom["entry_signature"].encode(), ENTRY_SIGNATURE, "entry signature domain")
    c.eq(dom["entry_id"].encode(), ENTRY_ID, "entry id domain")
    c.eq(dom["feed_id"].encode(), FEED_ID, "feed id domain")
    c.eq(dom["next_key"].encode(), NEXT_KEY, "next key domain")
    c.eq(dom["receipt_signature"].encode(), RECEIPT_SIGNATURE, "receipt domain")
    c.eq(dom["decision_signature"].encode(), DECISION_SIGNATURE, "decision domain")
    c.eq(dom["auth"].encode(), AUTH, "auth domain")

    # Keys: the seed is BLAKE3(label).
    publics = {}
    for k in v["keys"]:
        seed = blake3.blake3(k["label"].encode()).digest()
        c.eq(seed.hex(), k["seed"], f"seed of {k['label']}")
        public = pub(Ed25519PrivateKey.from_private_bytes(seed))
        c.eq(public.hex(), k["public"], f"public key of {k['label']}")
        c.eq(bech32m("key", public), k["text"], f"text of {k['label']}")
        publics[k["label"]] = public

    def payload_of(e):
        """The payload rebuilt from the vector's fields with the generated protobuf code."""
        (kind, fields), = e["body"].items()
        message = {
            "inception": entry_pb2.Inception, "rotation": entry_pb2.Rotation, "policy": entry_pb2.Policy,
            "accreditation": entry_pb2.Accreditation, "suspension": entry_pb2.Suspension,
            "grant": entry_pb2.Grant, "revoke": entry_pb2.Revoke, "request": entry_pb2.Request,
            "ack": entry_pb2.Ack, "stance": entry_pb2.Stance, "response": entry_pb2.ConsultationResponse,
            "outcome": entry_pb2.ConsultationOutcome, "delegation": entry_pb2.Delegation,
            "undelegation": entry_pb2.Undelegation, "endorsement": entry_pb2.Endorsement,
        }[kind]
        header = {"seq": e["seq"], "prev": b(e["prev"]), "time_ms": e["time_ms"]}
        if e["seq"] > 0:
            header["feed"] = b(e["feed"])
        return entry_pb2.EntryPayload(**header, **{kind: message_from_json(message, fields)}).SerializeToString()

    def check_entry(e, signing_key=None):
        """Everything an entry vector states, recomputed; returns its payload message."""
        name = e["name"]
        payload, sig = b(e["payload"]), b(e["signature"])
        c.eq(payload_of(e), payload, f"{name}: payload from its fields")
        signed = entry_pb2.SignedEntry(payload=payload, signature=sig).SerializeToString()
        c.eq(signed.hex(), e["signed_entry"], f"{name}: SignedEntry")
        entry_id = h(ENTRY_ID, payload, sig)
        c.eq(entry_id.hex(), e["id"], f"{name}: id")
        c.eq(bech32m("ent", entry_id), e["id_text"], f"{name}: id text")
        if e["seq"] == 0:
            c.eq(h(FEED_ID, payload).hex(), e["feed"], f"{name}: feed id")
        c.eq(bech32m(PREFIXES[e["role"]], b(e["feed"])), e["feed_text"], f"{name}: feed text")
        key = b(e["signing_key"])
        if signing_key is not None:
            c.eq(key, signing_key, f"{name}: signed by the key in force")
        c.true(protocol_valid(key, ENTRY_SIGNATURE, payload, sig), f"{name}: signature (protocol rule)")
        c.true(library_valid(key, ENTRY_SIGNATURE + payload, sig), f"{name}: signature (cryptography)")
        return entry_pb2.EntryPayload.FromString(payload)

    # Entries, replayed as a feed-by-feed chain: seq, prev, the key in force, rotations.
    feeds = {}

    def replay(e):
        body = e["body"]
        if "inception" in body:
            inc = body["inception"]
            check_entry(e, b(inc["signing_key"]))
            feeds[e["feed"]] = {"seq": 0, "head": e["id"], "key": b(inc["signing_key"]),
                                "next": b(inc["next_key_digest"])}
            return
        feed = feeds[e["feed"]]
        c.eq((e["seq"], e["prev"]), (feed["seq"] + 1, feed["head"]), f"{e['name']}: chained")
        if "rotation" in body:
            new = b(body["rotation"]["signing_key"])
            c.eq(h(NEXT_KEY, new), feed["next"], f"{e['name']}: the committed key")
            check_entry(e, new)
            feed["key"], feed["next"] = new, b(body["rotation"]["next_key_digest"])
        else:
            check_entry(e, feed["key"])
        feed["seq"], feed["head"] = e["seq"], e["id"]

    for e in v["entries"]:
        replay(e)
    c.eq(len({next(iter(e["body"])) for e in v["entries"]}), 9, "every body kind")
    # Each inception (and rotation) commits to the next key of its signer's label: .../0 to .../1.
    for e in v["entries"]:
        (kind, fields), = e["body"].items()
        if kind in ("inception", "rotation"):
            following = e["signer"][:-1] + str(int(e["signer"][-1]) + 1)
            c.eq(fields["next_key_digest"], h(NEXT_KEY, publics[following]).hex(), f"{e['name']}: commits to {following}")

    # The dev registrar: keys from its documented labels, the first entry of the scenario.
    dev = v["dev_registrar"]
    first = v["entries"][0]
    c.eq(first["name"], dev["inception"], "the dev registrar's inception")
    key0, key1 = (pub(Ed25519PrivateKey.from_private_bytes(blake3.blake3(x.encode()).digest()))
                  for x in dev["key_labels"])
    c.eq(dev["key_labels"], ["consent-ledger/dev-registrar/v1/key0", "consent-ledger/dev-registrar/v1/key1"],
         "dev registrar labels")
    c.eq(dev["inception_ms"], MIN_TIME_MS, "dev registrar inception time")
    inception = entry_pb2.EntryPayload(prev=bytes(32), time_ms=MIN_TIME_MS, inception=entry_pb2.Inception(
        role=vocab_pb2.ROLE_REGISTRAR, signing_key=key0, next_key_digest=h(NEXT_KEY, key1))).SerializeToString()
    c.eq(inception.hex(), first["payload"], "dev registrar inception payload")
    c.eq(h(FEED_ID, inception).hex(), dev["feed"], "dev registrar feed id")
    c.eq(bech32m("reg", h(FEED_ID, inception)), dev["feed_text"], "dev registrar feed text")

    # Encodings: canonical ones decode and re-encode to themselves; the refused ones do not.
    for e in v["encodings"]:
        name, payload = e["name"], b(e["payload"])
        signed = entry_pb2.SignedEntry.FromString(b(e["signed_entry"]))
        c.eq(signed.payload, payload, f"{name}: envelope")
        c.true(protocol_valid(publics[e["signer"]], ENTRY_SIGNATURE, payload, signed.signature),
               f"{name}: only the encoding is wrong")
        try:
            message = entry_pb2.EntryPayload.FromString(payload)
        except DecodeError:
            got = "malformed"
        else:
            message.DiscardUnknownFields()
            if message.SerializeToString() != payload:
                got = "non-canonical"
            elif message.WhichOneof("body") is None:
                got = "missing-body"
            else:
                got = None
        if name == "wrong-wire-type" and got == "non-canonical":
            # Some protobuf libraries (this one's upb) read a known field with the wrong wire type
            # as an unknown field, which makes the payload non-canonical: refused either way, as
            # the spec says.
            got = "malformed"
        c.eq(got, e["reason"], f"encoding {name}")

    # The signature rule, and where a cofactorless library disagrees.
    for s in v["signatures"]:
        key, domain, message, sig = b(s["key"]), s["domain"].encode(), b(s["message"]), b(s["signature"])
        c.eq(protocol_valid(key, domain, message, sig), s["valid"], f"signature {s['name']} (protocol rule)")
        c.eq(cofactorless_valid(key, domain, message, sig), s["cofactorless"], f"signature {s['name']} (cofactorless)")
        if s["name"] in ("honest", "torsion-in-r", "mixed-order-key"):
            c.eq(library_valid(key, domain + message, sig), s["cofactorless"],
                 f"signature {s['name']}: cryptography checks the cofactorless equation")

    # Text forms.
    for t in v["text_forms"]:
        c.eq(bech32m(t["prefix"], b(t["bytes"])), t["text"], f"text form {t['prefix']}")

    # The pairwise feed of a wallet for one collector (consent-client `wallet`).
    pw = v["pairwise"]
    master, collector = b(pw["master"]), b(pw["collector"])
    for k in pw["keys"]:
        seed = blake3.blake3(master + collector + k["n"].to_bytes(4, "little"),
                             derive_key_context="consent-ledger wallet v1 pairwise key").digest()
        c.eq(seed.hex(), k["seed"], f"pairwise seed {k['n']}")
        c.eq(pub(Ed25519PrivateKey.from_private_bytes(seed)).hex(), k["public"], f"pairwise key {k['n']}")
    t = blake3.blake3(master + collector, derive_key_context="consent-ledger wallet v1 pairwise inception time").digest()
    c.eq(MIN_TIME_MS + int.from_bytes(t[:8], "little") % YEAR_MS, pw["inception_ms"], "pairwise inception time")
    inc = check_entry(pw["inception"], b(pw["keys"][0]["public"]))
    c.eq((inc.time_ms, inc.inception.next_key_digest), (pw["inception_ms"], h(NEXT_KEY, b(pw["keys"][1]["public"]))),
         "pairwise inception")

    # The wallet rule for signed times of citizen entries (the spec's "Signed times of citizen
    # entries", written here from its text alone).
    check_coarse_times(v["coarse_times"], c)

    # A collector's authentication statement.
    a = v["auth"]
    statement = b(a["node_key"]) + b(a["collector"]) + a["time_ms"].to_bytes(8, "big")
    c.eq(statement.hex(), a["statement"], "auth statement")
    c.true(protocol_valid(publics[a["signer"]], AUTH, statement, b(a["signature"])), "auth signature")

    # Entry receipts.
    for r in v["receipts"]:
        p = ledger_pb2.ReceiptPayload.FromString(b(r["payload"]))
        c.eq((p.node.hex(), p.entry_id.hex(), p.index, p.time_ms),
             (r["node_key"], r["entry_id"], r["index"], r["time_ms"]), f"receipt of {r['entry']}")
        c.true(protocol_valid(p.node, RECEIPT_SIGNATURE, b(r["payload"]), b(r["signature"])), "receipt signature")
        c.eq(v["entries"][p.index]["id"], r["entry_id"], "the receipt's index")

    # Receipts signed as a group: leaf hash SHA-256(0x00 || kind's domain || salt || payload), an
    # RFC 9162 tree over the leaves, one signature over the group domain || root || size (u64 BE).
    g = v["receipt_groups"]
    c.eq(g["domain"].encode(), RECEIPT_GROUP_SIGNATURE, "receipt group domain")
    group_leaves = []
    for r in g["receipts"]:
        domain = RECEIPT_SIGNATURE if r["kind"] == "entry" else DECISION_SIGNATURE
        data = domain + b(r["group"]["salt"]) + b(r["payload"])
        c.eq(leaf_hash(data).hex(), r["leaf"], f"group leaf of {r['of']}")
        group_leaves.append(data)
    root = mth(group_leaves)
    c.eq(root.hex(), g["root"], "group root")
    signed = RECEIPT_GROUP_SIGNATURE + root + len(group_leaves).to_bytes(8, "big")
    c.eq(signed.hex(), g["signed"], "group signed bytes")
    c.true(protocol_valid(b(g["node_key"]), RECEIPT_GROUP_SIGNATURE, signed[len(RECEIPT_GROUP_SIGNATURE):],
                          b(g["signature"])), "group signature")
    for i, r in enumerate(g["receipts"]):
        place = r["group"]
        c.eq((place["size"], place["index"]), (len(group_leaves), i), f"group place of {r['of']}")
        c.eq([x.hex() for x in audit_path(i, group_leaves)], place["path"], f"group path of {r['of']}")
        c.true(receipt_valid(r["kind"], b(r["payload"]), b(g["signature"]), place), f"group receipt {r['of']}")
    for case in v["receipt_group_cases"]:
        c.eq(receipt_valid(case["kind"], b(case["payload"]), b(case["signature"]), case["group"]), case["valid"],
             f"receipt group case: {case['about']}")

    # The Merkle tree over the arrival log (leaf i: the id of the entry at index i) and its proofs.
    m = v["merkle"]
    leaves = [b(x) for x in m["leaves"]]
    c.eq([e["id"] for e in v["entries"]], m["leaves"], "leaves are entry ids in arrival order")
    c.eq([leaf_hash(x).hex() for x in leaves], m["leaf_hashes"], "leaf hashes")
    roots = [mth(leaves[:n]) for n in range(len(leaves) + 1)]
    c.eq([r.hex() for r in roots], m["roots"], "roots")
    for p in m["inclusion"]:
        i, n, proof = p["index"], p["size"], [b(x) for x in p["hashes"]]
        c.eq([x.hex() for x in audit_path(i, leaves[:n])], p["hashes"], f"inclusion path {i} of {n}")
        c.true(verify_inclusion(i, n, leaf_hash(leaves[i]), proof, roots[n]), f"inclusion {i} of {n}")
        c.true(not verify_inclusion(i, n, leaf_hash(b"other"), proof, roots[n]), f"inclusion {i} of {n} binds")
    for p in m["consistency"]:
        old, new, proof = p["old"], p["new"], [b(x) for x in p["hashes"]]
        c.eq([x.hex() for x in consistency_path(old, leaves[:new])], p["hashes"], f"consistency {old} to {new}")
        c.true(verify_consistency(old, new, roots[old], roots[new], proof), f"consistency {old} to {new}")

    # Decision receipts: the node's signature, the time fields, its checkpoint note (signed by
    # the node, cosigned by the witness), and the inclusion of the grant (and revocation).
    def decide_from_log(log, q, at_ms, context):
        """scope.decide over the grants of the question's subject to its collector in `log`."""
        policies = {e["id"]: e["body"]["policy"] for e in log if "policy" in e["body"]}
        revoked = {e["body"]["revoke"]["grant"] for e in log if "revoke" in e["body"]}
        grants = [scope.Grant(e["seq"], x["purposes"], x["categories"], x["valid_from"], x["valid_until"],
                              e["id"] in revoked, scope.PolicyScope.from_json(policies[x["policy"]].get("scope")),
                              scope.GrantScope.from_json(x.get("scope")), e["id"])
                  for e in log if "grant" in e["body"] and e["feed"] == q.subject.hex()
                  for x in [e["body"]["grant"]] if x["collector"] == q.collector.hex()]
        decision, reason, named, form = scope.decide(grants, vocab_pb2.Purpose.Name(q.purpose),
                                                     vocab_pb2.DataCategory.Name(q.category), at_ms, context)
        return decision, reason, named.id if named else "", form

    with_context = 0
    for d in v["decision_receipts"]:
        name = d["name"]
        receipt = consent_pb2.DecisionReceipt.FromString(b(d["receipt"]))
        p = consent_pb2.DecisionPayload.FromString(receipt.payload)
        c.eq((receipt.payload.hex(), receipt.signature.hex()), (d["payload"], d["signature"]), f"{name}: parts")
        c.true(protocol_valid(p.node, DECISION_SIGNATURE, receipt.payload, receipt.signature), f"{name}: signature")
        q = p.question
        question = {"subject": q.subject.hex(), "collector": q.collector.hex(), "purpose": vocab_pb2.Purpose.Name(q.purpose),
                    "category": vocab_pb2.DataCategory.Name(q.category), "at_ms": q.at_ms}
        context = None
        if q.HasField("context"):
            # The digest is over the question's context, the signature covers both.
            context, question["context"] = wire_context(q, vocab_pb2)
            c.eq(p.context_digest, context.digest(), f"{name}: context digest recomputed")
            c.eq(p.context_digest.hex(), d["context_digest"], f"{name}: context digest")
            with_context += 1
        else:
            c.eq((p.context_digest, "context_digest" in d), (b"", False), f"{name}: no context, no digest")
        c.eq(question, d["question"], f"{name}: question")
        # The rule, recomputed from the subject's grants in the log at the receipt's size (the
        # collector accredited, neither feed frozen, as these receipts are; no opt-out).
        c.eq(decide_from_log(v["entries"][:p.log_size], q, p.at_ms, context)[:3],
             (d["decision"], d["reason"], d["grant"]), f"{name}: the rule gives the receipt's answer")
        at = q.at_ms or p.time_ms
        when = ("QUESTION_TIME_PAST" if at + QUESTION_TIME_TOLERANCE_MS < p.time_ms else
                "QUESTION_TIME_FUTURE" if at > p.time_ms + QUESTION_TIME_TOLERANCE_MS else "QUESTION_TIME_CURRENT")
        c.eq((p.at_ms, consent_pb2.QuestionTime.Name(p.when)), (at, when), f"{name}: the time it is about")
        c.eq((p.at_ms, consent_pb2.QuestionTime.Name(p.when)), (d["at_ms"], d["when"]), f"{name}: time fields")
        c.eq((consent_pb2.Decision.Name(p.decision), consent_pb2.Reason.Name(p.reason), p.grant.hex(),
              p.subject_head.hex(), p.subject_head_seq, p.log_size, p.time_ms, p.revocation.hex()),
             (d["decision"], d["reason"], d["grant"], d["subject_head"], d["subject_head_seq"], d["log_size"],
              d["time_ms"], d["revocation"]), f"{name}: payload")
        c.eq(receipt.checkpoint, d["checkpoint"]["text"], f"{name}: checkpoint")
        body, origin, size, root, time_ms, lines = parse_note(receipt.checkpoint)
        c.eq(origin, bech32m("node", p.node), f"{name}: the checkpoint is the node's")
        c.eq((size, time_ms, root.hex(), body), (p.log_size, d["checkpoint"]["time_ms"], d["checkpoint"]["root"],
                                                 d["checkpoint"]["body"]), f"{name}: checkpoint fields")
        c.eq(root, roots[size], f"{name}: the checkpoint's root is the log's")
        kinds = []
        for (signer, blob), line in zip(lines, d["checkpoint"]["signatures"]):
            key = b(line["key"])
            c.eq(signer, bech32m("node", key), f"{name}: signer names its key")
            if len(blob) == 68:
                kinds.append("signature")
                c.eq(blob[:4], key_id(signer, 0x01, key), f"{name}: key id")
                message = body.encode()
            else:
                kinds.append("cosignature")
                c.eq(blob[:4], key_id(signer, 0x04, key), f"{name}: cosignature key id")
                time_s = int.from_bytes(blob[4:12], "big")
                c.eq(time_s, line["time_s"], f"{name}: cosignature time")
                message = f"cosignature/v1\ntime {time_s}\n".encode() + body.encode()
            c.eq(message.decode(), line["signed"], f"{name}: signed text")
            c.true(protocol_valid(key, b"", message, blob[-64:]), f"{name}: {line['kind']} verifies")
            c.true(library_valid(key, message, blob[-64:]), f"{name}: {line['kind']} (cryptography)")
        c.eq(kinds, ["signature", "cosignature"], f"{name}: the node's signature, then the witness's")
        c.eq(lines[1][0], d["witness"], f"{name}: cosigned by the witness")
        for proof, entry in ((receipt.grant_inclusion, p.grant), (receipt.revocation_inclusion, p.revocation)):
            if not entry:
                c.true(not receipt.HasField("revocation_inclusion"), f"{name}: no revocation, no proof")
                continue
            c.eq((proof.entry_id, proof.tree_size), (entry, size), f"{name}: the proof is of the entry named")
            c.true(verify_inclusion(proof.index, size, leaf_hash(proof.entry_id), list(proof.hashes), root),
                   f"{name}: inclusion")

    # An equivocation: two entries at one seq of one feed, both signed by its key.
    q = v["equivocation"]
    inc = check_entry(q["inception"])
    key = inc.inception.signing_key
    first, second = check_entry(q["first"], key), check_entry(q["second"], key)
    c.eq((first.feed, first.seq, first.prev), (second.feed, q["seq"], second.prev), "equivocation: one place")
    c.eq(first.prev, h(ENTRY_ID, b(q["inception"]["payload"]), b(q["inception"]["signature"])), "equivocation: prev")
    c.true(q["first"]["id"] != q["second"]["id"], "equivocation: two entries")

    c.eq(with_context, 1, "one decision receipt's question carries a context")

    check_scope_vectors(v, c, replay, entry_pb2)
    consultation.check_vectors(v, c, replay, entry_pb2)
    delegation.check_vectors(v, c, replay, entry_pb2)
    delegation.check_decisions(v, c)
    print(f"vectors: all {c.count} checks passed ({args.vectors})")


def check_scope_vectors(v, c, replay, entry_pb2):
    """The vectors of "Scope and form", with scope.py."""
    # H3: which 64-bit values are cells, and parents at every resolution (null when finer).
    hv = v["h3"]
    for item in hv["indexes"]:
        c.eq(scope.is_cell(int(item["index"], 16)), item["valid"], f"h3 {item['index']} ({item['about']})")
    c.true({item["valid"] for item in hv["indexes"]} == {True, False}, "h3: cells and non-cells")
    c.true(any("deleted" in item["about"] and not item["valid"] for item in hv["indexes"]),
           "h3: a pentagon's deleted subsequence")
    for item in hv["parents"]:
        cell, r = int(item["cell"], 16), item["resolution"]
        c.true(scope.is_cell(cell), f"h3: {item['cell']} is a cell")
        got = scope.parent(cell, r)
        c.eq(None if got is None else scope.cell_text(got), item["parent"], f"h3: parent of {item['cell']} at {r}")
        if got is not None:
            c.true(scope.is_cell(got) and scope.resolution(got) == r, f"h3: parent of {item['cell']} at {r} is a cell")
    c.true({"cell": "8a754e64992ffff", "resolution": 9, "parent": "89754e64993ffff"} in hv["parents"]
           and {"cell": "8a754e64992ffff", "resolution": 0, "parent": "8075fffffffffff"} in hv["parents"],
           "h3: the spec's worked parents")

    # Local time at a fixed offset.
    for item in v["local_time"]:
        c.eq(scope.local_time(item["observed_ms"], item["utc_offset_minutes"]), (item["weekday"], item["minute"]),
             f"local time of {item['observed_ms']} at {item['utc_offset_minutes']:+d} min")

    # The scoped policy and its grants: they continue the entries' feeds (same checks), their
    # scopes' JSON is their bytes, and the spec's worked bytes.
    for e in v["scopes"]:
        replay(e)
    named = {e["name"]: e for e in v["scopes"]}
    policy = named["policy-scoped"]
    body = policy["body"]["policy"]
    first = next(e["body"]["policy"] for e in v["entries"] if "policy" in e["body"] and e["feed"] == policy["feed"])
    c.true(body["version"] > first["version"], "the scoped policy is a later version")
    check_policy_scope_shape(c, body["scope"], "the scoped policy")
    encoded = message_from_json(entry_pb2.PolicyScope, body["scope"]).SerializeToString()
    c.eq(encoded.hex(), body["scope"]["encoding"], "the scoped policy: its scope's bytes")
    c.eq(encoded[:4].hex(), "08011078", "a policy scope at +01:00 starts 08 01 10 78")
    c.true(b(policy["payload"]).endswith(b"\x5a" + varint(len(encoded)) + encoded), "the policy's scope is field 11")
    for name in ("grant-scoped", "grant-zone"):
        e = named[name]
        grant = e["body"]["grant"]
        c.eq(grant["policy"], policy["id"], f"{name}: under the scoped policy")
        encoded = message_from_json(entry_pb2.GrantScope, grant["scope"]).SerializeToString()
        c.eq(encoded.hex(), grant["scope"]["encoding"], f"{name}: its scope's bytes")
        c.true(b(e["payload"]).endswith(b"\x42" + varint(len(encoded)) + encoded), f"{name}: the scope is field 8")
    c.eq(named["grant-zone"]["payload"][-14:], "42050801120101", "a grant narrowing zone 1 ends 42 05 08 01 12 01 01")

    # Scope decisions: each case's policy scope and one grant, decided by scope.py.
    sd = v["scope_decisions"]
    c.eq(sd["policies"][0], body["scope"], "scope decisions: the scoped policy first")
    policies = []
    for i, s in enumerate(sd["policies"]):
        if s is not None:
            check_policy_scope_shape(c, s, f"scope decisions: policy {i}")
            c.eq(message_from_json(entry_pb2.PolicyScope, s).SerializeToString().hex(), s["encoding"],
                 f"scope decisions: policy {i}'s bytes")
        policies.append(scope.PolicyScope.from_json(s))
    reasons = set()
    for i, case in enumerate(sd["cases"]):
        what = f"scope decision {i} ({case.get('about', 'seeded')})"
        g, q = case["grant"], case["question"]
        if g["scope"] is not None:
            c.eq(message_from_json(entry_pb2.GrantScope, g["scope"]).SerializeToString().hex(), g["scope"]["encoding"],
                 f"{what}: the grant scope's bytes")
        grant = scope.Grant(g["seq"], g["purposes"], g["categories"], g["valid_from"], g["valid_until"], g["revoked"],
                            None if case["policy"] is None else policies[case["policy"]],
                            scope.GrantScope.from_json(g["scope"]))
        decision, reason, _, form = scope.decide([grant], q["purpose"], q["category"], q["at_ms"],
                                                 scope.Context.from_json(q["context"]), case["opt_out_seq"])
        c.eq((decision, reason, form), (case["decision"], case["reason"], case["required_form"]), what)
        reasons.add(reason)
    c.true(len([x for x in sd["cases"] if "about" not in x]) >= 2000, "scope decisions: 2,000 seeded cases")
    scope_reasons = {"REASON_CONTEXT_MISSING_SENSOR", "REASON_CONTEXT_MISSING_CELL", "REASON_CONTEXT_MISSING_TIME",
                     "REASON_CONTEXT_MISSING_FORM", "REASON_SENSOR_NOT_COVERED", "REASON_ZONE_NOT_COVERED",
                     "REASON_TIME_NOT_COVERED", "REASON_FORM_NOT_COVERED", "REASON_GRANTED"}
    c.eq(scope_reasons - reasons, set(), "scope decisions: every scope reason decided at least once")

    # Context digests.
    cd = v["context_digests"]
    c.eq(cd["domain"].encode(), scope.CONTEXT_DOMAIN, "context digest domain")
    for i, item in enumerate(cd["items"]):
        context = scope.Context.from_json(item["context"])
        c.eq(context.digest_input().hex(), item["input"], f"context digest {i}: the bytes hashed")
        c.eq(context.digest().hex(), item["digest"], f"context digest {i}")
    c.eq(cd["items"][0]["input"], (scope.CONTEXT_DOMAIN + bytes(22)).hex(), "an empty context hashes zeros")
    from consent.v1 import vocab_pb2
    c.eq({n: vocab_pb2.SensorKind.Value(n) for n in scope.SENSOR_KIND_NUMBER},
         scope.SENSOR_KIND_NUMBER, "scope.py's sensor kind numbers are vocab.proto's")


if __name__ == "__main__":
    main()
