#!/usr/bin/env python3
"""A consent-ledger client written from the .proto files and the consent-proto crate docs only.

It generates the protobuf/gRPC code from proto/consent/v1, then, against a node whose genesis
lists the development registrar:
  1. re-derives the dev registrar from its documented seeds (and so its feed id),
  2. creates a collector with a policy, accredits it, creates a citizen who grants consent,
  3. authenticates as the collector (Consent.Authenticate), checks (allow), watches, revokes
     with erasure, checks (deny: revoked), sees the revocation on the watch stream, erases and
     acknowledges it with a signed Ack entry (Node.AnswerTimes counts it), and resumes the watch
     from its cursor; a check without the session is refused (UNAUTHENTICATED),
  4. publishes a scoped policy (a street's zones of H3 cells, sensors, a daily window at +01:00,
     forms per purpose); a second citizen's grant naming a zone the policy lacks is refused
     (zone-not-in-policy), one narrowing it to one zone with a floor for one purpose is accepted;
     checks with observation contexts: allowed with the whole context (its signed receipt's
     context digest recomputed), a missing cell, a cell outside the granted zone, a form below
     the grant's floor (the required form named, then allowed in it), a cell that is not an H3
     cell (INVALID_ARGUMENT); every answer is also decided by scope.py, written from the docs,
  5. puts the collector's next version, which adds a purpose, to public consultation for a day (a
     draft); a citizen objects with a details digest, then supports; a support giving a reason
     is malformed (bad-field); a grant under the draft is refused (policy-draft); the node's
     consultation counts one supporting feed without a grant (consultation.py),
  6. (before 4) a person delegates granting to a delegate feed; the delegate grants in the
     person's name, and the check allows naming the delegation (answer and signed receipt); a
     request it has no power for is refused (power-not-delegated); the person undelegates with
     void_from_ms, and a later grant by the delegate is denied DELEGATION_WITHDRAWN while the
     earlier one still allows; ListDelegations and ListDelegated agree (delegation.py),
verifying every entry id and receipt signature on the way. Exits non-zero on any mismatch.

Usage: python_client.py --node [http://|https://]HOST:PORT --out GENERATED_DIR
                        [--ca-cert FILE] [--client-cert FILE --client-key FILE]

`host:port` and `http://host:port` talk plain text (a node on loopback). `https://host:port`
talks TLS: the node's certificate must chain to the CA in --ca-cert (else to one this system
trusts: the file OpenSSL reads, SSL_CERT_FILE or its default, else the roots grpcio ships) and
hold the URL's host; to a node that requires client certificates (mutual TLS) it presents
--client-cert with --client-key. A connection that fails says why in one line and exits 1:
unknown CA, expired certificate, name mismatch, client certificate required or refused, not TLS,
nothing listening.
"""
import argparse
import hashlib
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time

import blake3
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives import serialization

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_DIR = os.path.join(ROOT, "proto")

ENTRY_SIGNATURE = b"consent-ledger/entry/v1"
ENTRY_ID = b"consent-ledger/entry-id/v1"
FEED_ID = b"consent-ledger/feed-id/v1"
NEXT_KEY = b"consent-ledger/next-key/v1"
RECEIPT_SIGNATURE = b"consent-ledger/receipt/v1"
DECISION_SIGNATURE = b"consent-ledger/decision/v1"
AUTH = b"consent-ledger/auth/v1"
MIN_TIME_MS = 1_577_836_800_000  # 2020-01-01, the dev registrar's inception time


def generate(out):
    os.makedirs(out, exist_ok=True)
    protos = [os.path.join("consent", "v1", f) for f in sorted(os.listdir(os.path.join(PROTO_DIR, "consent", "v1")))]
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", PROTO_DIR, f"--python_out={out}", f"--grpc_python_out={out}", *protos],
        check=True,
    )
    sys.path.insert(0, out)


def root_from_path(index, size, leaf, path):
    """RFC 9162 section 2.1.3.2's walk (crate docs, "The verifiable log", "Receipt groups"): the root
    an audit path leads to from a leaf hash, or None (a place outside the tree, a path of the wrong
    length)."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def h(*parts):
    return blake3.blake3(b"".join(parts)).digest()


def message_from_json(cls, fields):
    """A protobuf message from its JSON as the test vectors write it: fields by their `.proto`
    names, bytes in hex, enums by name, H3 cells (`fixed64`) in hex, embedded messages as objects
    (lists for repeated ones), null for an absent message. `encoding`, the bytes of a scope
    stated beside its fields, is not a field."""
    from google.protobuf.message_factory import GetMessageClass

    args = {}
    for name, value in fields.items():
        if name == "encoding" or value is None:
            continue
        field = cls.DESCRIPTOR.fields_by_name[name]

        def one(x, field=field):
            if field.message_type is not None:
                return message_from_json(GetMessageClass(field.message_type), x)
            if field.enum_type is not None:
                return field.enum_type.values_by_name[x].number
            if field.type == field.TYPE_BYTES:
                return bytes.fromhex(x)
            if field.type == field.TYPE_FIXED64 and isinstance(x, str):
                return int(x, 16)
            return x

        args[name] = [one(x) for x in value] if isinstance(value, list) else one(value)
    return cls(**args)


def pub(sk):
    return sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Feed:
    """One author's feed: keys, head, and signing as the docs describe."""

    def __init__(self, pb, role, key, next_key, t):
        self.pb, self.key, self.next_key = pb, key, next_key
        payload = pb.EntryPayload(
            prev=bytes(32),
            time_ms=t,
            inception=pb.Inception(role=role, signing_key=pub(key), next_key_digest=h(NEXT_KEY, pub(next_key))),
        )
        self.inception = self._sign(payload)
        self.feed = h(FEED_ID, self.inception.payload)
        self.seq, self.head = 0, entry_id(self.inception)

    def _sign(self, payload):
        data = payload.SerializeToString()
        return self.pb.SignedEntry(payload=data, signature=self.key.sign(ENTRY_SIGNATURE + data))

    def append(self, t, **body):
        payload = self.pb.EntryPayload(feed=self.feed, seq=self.seq + 1, prev=self.head, time_ms=t, **body)
        signed = self._sign(payload)
        self.seq, self.head = self.seq + 1, entry_id(signed)
        return signed


def entry_id(signed):
    return h(ENTRY_ID, signed.payload, signed.signature)


CONNECT_TIMEOUT_S = 30  # how long to wait for a node that refuses connections (still starting)
CALL_TIMEOUT_S = 10  # how long the first call may take


def fail(message):
    """Stops the client with `message` (one line) on stderr and exit status 1."""
    raise SystemExit(message)


class Node:
    """Where the node is and how to talk to it, from --node and the TLS options."""

    def __init__(self, args):
        text = args.node.strip()
        scheme, sep, rest = text.partition("://")
        if not sep:
            scheme, rest = "http", text  # host:port, what <data-dir>/grpc.addr holds
        scheme, rest = scheme.lower(), rest.rstrip("/")
        if scheme not in ("http", "https"):
            fail(f"{text} is not a node URL ({scheme}:// is neither http:// nor https://); "
                 "use e.g. 127.0.0.1:50051, or https://host:port for TLS")
        if not rest or "/" in rest:
            fail(f"{text} is not a node URL (host:port expected); use e.g. 127.0.0.1:50051, or https://host:port for TLS")
        self.target, self.tls, self.url = rest, scheme == "https", f"{scheme}://{rest}"
        self.ca_cert, self.client_cert, self.client_key = args.ca_cert, args.client_cert, args.client_key
        if not self.tls and (self.ca_cert or self.client_cert or self.client_key):
            fail(f"a CA or client certificate was given for {self.url}, a plaintext URL: "
                 "use https:// to talk TLS, or drop them")
        if bool(self.client_cert) != bool(self.client_key):
            fail("--client-cert and --client-key go together: give both, or neither")

    def host_port(self):
        """The URL's host (the name the node's certificate must hold) and port (443 if none)."""
        host, sep, port = self.target.rpartition(":")
        if not sep or not port.isdigit() or (":" in host and not host.startswith("[")):
            host, port = self.target, "443"  # no port, or a bare IPv6 address
        return host.strip("[]"), int(port)

    def trusted(self):
        """What the node's certificate is checked against, in words."""
        return f"the CA in {self.ca_cert}" if self.ca_cert else "a CA this system trusts"

    def credentials(self, grpc):
        """grpcio's TLS credentials, the files read and checked first."""
        if self.ca_cert:
            roots = read_file(self.ca_cert, "the CA certificate")
            try:
                x509.load_pem_x509_certificates(roots)
            except ValueError as e:
                fail(f"the CA certificate {self.ca_cert}: no PEM certificate in it ({e})")
        else:
            # This system's roots; without such a file, grpcio's own (root_certificates=None).
            system = ssl.get_default_verify_paths().cafile
            roots = read_file(system, "this system's CA certificates") if system else None
        chain = key = None
        if self.client_cert:
            chain = read_file(self.client_cert, "the client certificate")
            key = read_file(self.client_key, "the client key")
            try:
                cert = x509.load_pem_x509_certificate(chain)
            except ValueError as e:
                fail(f"the client certificate {self.client_cert}: no PEM certificate in it ({e})")
            try:
                private = serialization.load_pem_private_key(key, password=None)
            except (ValueError, TypeError, UnsupportedAlgorithm) as e:
                fail(f"the client key {self.client_key}: no unencrypted PEM private key in it ({e})")
            spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            if cert.public_key().public_bytes(*spki) != private.public_key().public_bytes(*spki):
                fail(f"the client key {self.client_key} does not belong to the client certificate {self.client_cert}")
        return grpc.ssl_channel_credentials(root_certificates=roots, private_key=key, certificate_chain=chain)

    def connect(self, grpc, node_pb2, node_pb2_grpc):
        """A channel to the node, its first call answered; else stops, saying why in one line."""
        options = [("grpc.max_reconnect_backoff_ms", 1000)]
        if self.tls:
            channel = grpc.secure_channel(self.target, self.credentials(grpc), options)
        else:
            channel = grpc.insecure_channel(self.target, options)
        stub = node_pb2_grpc.NodeStub(channel)
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        error = None
        with CoreLog() as log:
            while True:
                try:
                    stub.NodeKey(node_pb2.NodeKeyRequest(), timeout=CALL_TIMEOUT_S)
                    break
                except grpc.RpcError as e:
                    refused = "Connection refused" in (e.details() or "")
                    if e.code() == grpc.StatusCode.UNAVAILABLE and refused and time.monotonic() < deadline:
                        time.sleep(0.2)  # the node may be starting: wait for it to listen
                        continue
                    error = e
                    break
        if error is None:
            sys.stderr.write(log.text)  # nothing hidden when it worked
            how = "in plain text"
            if self.tls:
                how = "over TLS" + (f", client certificate {self.client_cert}" if self.client_cert else "")
            print(f"connected to {self.url} {how}")
            return channel
        fail(self.why(error.code(), error.details() or "", log.text))

    def why(self, code, details, log):
        """What a failed first call means, in one line. grpcio gives a status (UNAVAILABLE) and
        its C core's words: BoringSSL's verification error for the node's certificate, "Hostname
        Verification Check failed" for a name mismatch; a node refusing the client certificate
        (TLS 1.3: after the handshake) shows only as "Unwrap failed (TSI_DATA_CORRUPTED)", and
        the alert it sent is named in the core's log (`log`, captured from stderr)."""
        url = self.url
        if "Connection refused" in details:
            return f"cannot reach the node at {url}: connection refused (is consentd running there?)"
        if code.name == "DEADLINE_EXCEEDED":
            return f"the node at {url} did not answer within {CALL_TIMEOUT_S} s"
        if not self.tls:
            if "Socket closed" in details or "Connection reset" in details:
                return (f"the node at {url} closed the connection: if it serves TLS, "
                        f"use https://{self.target} (with --ca-cert)")
            return f"cannot reach the node at {url}: {details}"
        verify = re.search(r"CERTIFICATE_VERIFY_FAILED: ([^:]+)", details)
        if verify:
            reason = verify.group(1).strip()
            if reason in UNKNOWN_CA:
                return (f"the node at {url} presented a certificate not signed by {self.trusted()}: "
                        "pass --ca-cert with the CA that signed it")
            if reason == "certificate has expired":
                return f"the node at {url} presented an expired certificate: its operator must renew it"
            if reason == "certificate is not yet valid":
                return f"the node at {url} presented a certificate that is not valid yet: check this machine's clock"
            return f"the node at {url} presented a certificate that cannot be trusted: {reason}"
        if "Hostname Verification Check failed" in details:
            host, port = self.host_port()
            names = presented_names(host, port)
            return (f"the node at {url} presented a certificate for {names or 'other names'}, "
                    f"not for {host}: connect by a name it holds")
        if "WRONG_VERSION_NUMBER" in details:
            return (f"the server at {url} does not speak TLS (its answer is not TLS): "
                    "if the node serves plain text there, use http://")
        alert = re.search(r"(?:TLSV1|SSLV3)_ALERT_([A-Z_]+)", details + "\n" + log)
        if alert:
            name = alert.group(1)
            if name == "CERTIFICATE_REQUIRED":
                return f"the node at {url} requires a client certificate: pass --client-cert and --client-key"
            if self.client_cert and name in CLIENT_CERT_ALERTS:
                return f"the node at {url} refused the client certificate {self.client_cert}: {CLIENT_CERT_ALERTS[name]}"
            return f"TLS with the node at {url} failed: the node ended the handshake ({name.lower()})"
        if "TSI_DATA_CORRUPTED" in details or "Socket closed" in details:
            # The node hung up right after the handshake, and the core's log did not say why.
            if self.client_cert:
                return (f"the node at {url} closed the connection after the TLS handshake: "
                        f"it probably refused the client certificate {self.client_cert}")
            return (f"the node at {url} closed the connection after the TLS handshake: it probably "
                    "requires a client certificate (pass --client-cert and --client-key)")
        if "handshake" in details.lower() or "TSI_" in details:
            return f"TLS with the node at {url} failed: {details}"
        return f"cannot reach the node at {url}: {details}"


# BoringSSL's words for a certificate that does not chain to a trusted CA.
UNKNOWN_CA = {
    "unable to get local issuer certificate",
    "unable to get issuer certificate",
    "unable to verify the first certificate",
    "self signed certificate",
    "self-signed certificate",
    "self signed certificate in certificate chain",
    "self-signed certificate in certificate chain",
    "certificate signature failure",
}

# The alerts a node sends about the client certificate it was shown, in words.
CLIENT_CERT_ALERTS = {
    "UNKNOWN_CA": "it is not signed by a CA the node trusts for clients",
    "CERTIFICATE_EXPIRED": "it has expired, or is not valid yet",
    "CERTIFICATE_REVOKED": "it is revoked",
    "UNSUPPORTED_CERTIFICATE": "it is not a TLS client certificate (its extended key usage)",
    "ACCESS_DENIED": "the node does not admit this client",
    "BAD_CERTIFICATE": "the node cannot accept it",
    "CERTIFICATE_UNKNOWN": "the node cannot accept it",
    "DECRYPT_ERROR": "the node cannot accept it",
}


def read_file(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        fail(f"{what} {path}: cannot read it ({e.strerror})")


def presented_names(host, port):
    """The names in the certificate the node at `host`:`port` presents (fetched again, without
    checking it), comma-separated; None when it cannot be had."""
    try:
        pem = ssl.get_server_certificate((host, port), timeout=5)
        cert = x509.load_pem_x509_certificate(pem.encode())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return ", ".join(str(name.value) for name in san) or None
    except Exception:  # only a detail of a message: without it the message says "other names"
        return None


class CoreLog:
    """What grpcio's C core writes on stderr (file descriptor 2) while open, kept in `text`: the
    TLS alert a node sends after the handshake (client certificate required or refused) reaches
    a call's error only as "Unwrap failed (TSI_DATA_CORRUPTED)", and the core logs its name
    there. Kept apart, it also leaves the failure to be said in one line."""

    def __enter__(self):
        sys.stderr.flush()
        self.file = tempfile.TemporaryFile()
        self.saved = os.dup(2)
        os.dup2(self.file.fileno(), 2)
        self.text = ""
        return self

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.file.seek(0)
        self.text = self.file.read().decode(errors="replace")
        self.file.close()
        return False


# A street's scope, as consent-proto's street fixture declares it: real resolution-12 cells of a
# wharf and resolution-11 cells of a street along the Oudegracht in Utrecht, four sensors, every
# day 06:00-24:00 at +01:00 (fixed all year), and the forms offered per purpose.
WHARF_CELLS = [
    0x8c19690822801ff, 0x8c19690822803ff, 0x8c19690822809ff, 0x8c1969082280bff, 0x8c1969082280dff,
    0x8c19690822811ff, 0x8c19690822813ff, 0x8c19690822815ff, 0x8c19690822817ff, 0x8c1969082281dff,
    0x8c19690822881ff, 0x8c19690822883ff, 0x8c19690822889ff, 0x8c1969082288bff, 0x8c1969082288dff,
    0x8c19690822895ff, 0x8c1969082289dff, 0x8c196908228c5ff, 0x8c196908228c7ff, 0x8c196908228e9ff,
    0x8c196908228ebff,
]
STREET_CELLS = [
    0x8b1969082282fff, 0x8b1969082283fff, 0x8b1969082286fff, 0x8b1969082288fff, 0x8b196908228afff,
    0x8b196908228bfff, 0x8b196908228efff, 0x8b1969082294fff, 0x8b1969082295fff, 0x8b196908229cfff,
    0x8b196908229dfff, 0x8b19690822b2fff, 0x8b19690822b3fff, 0x8b19690822b6fff, 0x8b1969082741fff,
    0x8b196908274cfff, 0x8b196908274dfff, 0x8b196908276afff, 0x8b196908276bfff,
]
IN_WHARF = 0x8d19690822812ff  # resolution 13, in the wharf (zone 1)
IN_STREET = 0x8c196908274ddff  # resolution 12, in the street (zone 2)
UTC_OFFSET_MINUTES = 60


def offer(form, interval_s=0, resolution=0, min_group=0):
    return {"form": form, "interval_s": interval_s, "resolution": resolution, "min_group": min_group}


# The scope in the test vectors' JSON form: one source for the wire message and for scope.py.
STREET_SCOPE = {
    "version": 1,
    "utc_offset_minutes": UTC_OFFSET_MINUTES,
    "zones": [
        {"id": 1, "name": "Oudegracht wharf", "resolution": 12, "cells": [format(x, "x") for x in WHARF_CELLS]},
        {"id": 2, "name": "Oudegracht street", "resolution": 11, "cells": [format(x, "x") for x in STREET_CELLS]},
    ],
    "sensors": [
        {"id": 1, "kind": "SENSOR_KIND_NUMBER_PLATE_READER", "zone": 1},
        {"id": 2, "kind": "SENSOR_KIND_CAMERA", "zone": 2},
        {"id": 3, "kind": "SENSOR_KIND_AIR_QUALITY", "zone": 2},
        {"id": 4, "kind": "SENSOR_KIND_WIFI_COUNTER", "zone": 2},
    ],
    "windows": [{"days": 0x7F, "start_minute": 6 * 60, "end_minute": 24 * 60}],
    "forms": [
        {"purpose": "PURPOSE_URBAN_PLANNING",
         "offers": [offer("FORM_BINNED", 3_600, 9), offer("FORM_AGGREGATED", 3_600, 8, 3)]},
        {"purpose": "PURPOSE_ENVIRONMENTAL_MONITORING",
         "offers": [offer("FORM_PSEUDONYMISED"), offer("FORM_AGGREGATED", 900, 9, 3)]},
    ],
}


def narrowing(zones=(), forms=()):
    """A GrantScope in the vectors' JSON form."""
    return {"version": 1, "zones": list(zones), "sensors": [], "sensor_kinds": [], "windows": [],
            "forms": [{"purpose": p, "form": f} for p, f in forms]}


def scoped_walk(grpc, pb, vocab_pb2, consent_pb2, consent, collector, node_key, bearer, submit):
    """Step 4: a scoped policy, a refused and an accepted scoped grant, checks with contexts."""
    import scope

    t = int(time.time() * 1000)
    policy = collector.append(t, policy=pb.Policy(
        version=2, name="Python Street Sensors",
        purposes=[vocab_pb2.PURPOSE_ACADEMIC_RESEARCH, vocab_pb2.PURPOSE_URBAN_PLANNING,
                  vocab_pb2.PURPOSE_ENVIRONMENTAL_MONITORING],
        categories=[vocab_pb2.DATA_CATEGORY_ENVIRONMENTAL, vocab_pb2.DATA_CATEGORY_LOCATION], retention_days=365,
        jurisdiction="EU/GDPR", document_digest=h(b"street policy text"), document_url="https://lab.example/street",
        contact="dpo@lab.example", scope=message_from_json(pb.PolicyScope, STREET_SCOPE)))
    submit(policy, "scoped policy (2 zones, 4 sensors, a window, forms)")

    citizen = Feed(pb, vocab_pb2.ROLE_CITIZEN, Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), t)
    submit(citizen.inception, "second citizen inception")
    valid_from = t - 2 * scope.DAY_MS
    purposes = ["PURPOSE_URBAN_PLANNING", "PURPOSE_ENVIRONMENTAL_MONITORING"]

    def grant_body(narrow):
        return pb.Grant(collector=collector.feed, policy=entry_id(policy),
                        purposes=[vocab_pb2.Purpose.Value(x) for x in purposes],
                        categories=[vocab_pb2.DATA_CATEGORY_ENVIRONMENTAL], retention_days=30, valid_from=valid_from,
                        scope=message_from_json(pb.GrantScope, narrow))

    # A zone the policy does not declare: refused, and the feed stays where it was.
    seq, head = citizen.seq, citizen.head
    try:
        submit(citizen.append(t, grant=grant_body(narrowing(zones=[7]))), "grant narrowing to zone 7")
        raise SystemExit("a grant naming a zone the policy does not declare was accepted")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.INVALID_ARGUMENT or "zone-not-in-policy" not in (e.details() or ""):
            raise SystemExit(f"unexpected error for a grant naming zone 7: {e.code()} {e.details()}")
        print(f"  grant naming zone 7 refused: {e.details()}")
    citizen.seq, citizen.head = seq, head

    # The street (zone 2) only; urban planning kept aggregated at least.
    narrow = narrowing(zones=[2], forms=[("PURPOSE_URBAN_PLANNING", "FORM_AGGREGATED")])
    grant = citizen.append(t, grant=grant_body(narrow))
    submit(grant, "grant narrowed to zone 2, urban planning aggregated")
    model = scope.Grant(citizen.seq, purposes, ["DATA_CATEGORY_ENVIRONMENTAL"], valid_from, 0, False,
                        scope.PolicyScope.from_json(STREET_SCOPE), scope.GrantScope.from_json(narrow),
                        entry_id(grant))

    # Yesterday 10:00 local time (+01:00): inside the policy's window and the grant's validity.
    day = (t + UTC_OFFSET_MINUTES * scope.MINUTE_MS) // scope.DAY_MS - 1
    observed = day * scope.DAY_MS + 10 * 60 * scope.MINUTE_MS - UTC_OFFSET_MINUTES * scope.MINUTE_MS
    if scope.local_time(observed, UTC_OFFSET_MINUTES)[1] != 600:
        raise SystemExit("observation time: not 10:00 local")

    # A sensor is named by its id and its kind (by default the kind the policy gives it).
    declared_kind = {x["id"]: x["kind"] for x in STREET_SCOPE["sensors"]}

    def check(purpose, sensor, cell, form, expected, receipt=False, kind=None):
        kind = kind or declared_kind[sensor]
        context = consent_pb2.ObservationContext(sensor=sensor, cell=cell, observed_ms=observed,
                                                 form=vocab_pb2.Form.Value(form),
                                                 sensor_kind=vocab_pb2.SensorKind.Value(kind))
        question = consent_pb2.CheckRequest(
            subject=citizen.feed, collector=collector.feed, purpose=vocab_pb2.Purpose.Value(purpose),
            category=vocab_pb2.DATA_CATEGORY_ENVIRONMENTAL, context=context, receipt=receipt)
        r = consent.Check(question, metadata=bearer)
        got = (consent_pb2.Decision.Name(r.decision), consent_pb2.Reason.Name(r.reason),
               vocab_pb2.Form.Name(r.required_form))
        ctx = scope.Context(sensor, cell, observed, form, kind)
        decision, reason, named, required = scope.decide([model], purpose, "DATA_CATEGORY_ENVIRONMENTAL", r.at_ms, ctx)
        print(f"  check {purpose} sensor {sensor} ({kind}) cell {cell:x} {form}: {got[0]} ({got[1]}), "
              f"required {got[2]}")
        if got != expected:
            raise SystemExit(f"unexpected answer: want {expected}")
        if got != (decision, reason, required):
            raise SystemExit(f"scope.py decides otherwise: {(decision, reason, required)}")
        if r.grant != named.id:
            raise SystemExit("the answer names another grant")
        if receipt:
            # The signed decision: the question with its context, and the context's digest.
            p = consent_pb2.DecisionPayload.FromString(r.receipt.payload)
            if p.node != node_key:
                raise SystemExit("the receipt is signed by another node key")
            Ed25519PublicKey.from_public_bytes(p.node).verify(r.receipt.signature, DECISION_SIGNATURE + r.receipt.payload)
            if p.question.context != context or (p.decision, p.reason, p.grant) != (r.decision, r.reason, r.grant):
                raise SystemExit("the receipt states another question or answer")
            if p.context_digest != ctx.digest():
                raise SystemExit(f"receipt context digest {p.context_digest.hex()}, computed {ctx.digest().hex()}")
            print(f"  receipt verified; context digest {p.context_digest.hex()} recomputed")

    monitoring, planning = "PURPOSE_ENVIRONMENTAL_MONITORING", "PURPOSE_URBAN_PLANNING"
    check(monitoring, 3, IN_STREET, "FORM_PSEUDONYMISED", ("DECISION_ALLOW", "REASON_GRANTED", "FORM_PSEUDONYMISED"),
          receipt=True)
    check(monitoring, 3, 0, "FORM_PSEUDONYMISED",
          ("DECISION_DENY", "REASON_CONTEXT_MISSING_CELL", "FORM_PSEUDONYMISED"))
    check(monitoring, 3, IN_WHARF, "FORM_PSEUDONYMISED",
          ("DECISION_DENY", "REASON_ZONE_NOT_COVERED", "FORM_PSEUDONYMISED"))
    # Binned is offered for urban planning, but this grant accepts aggregated at least: the
    # answer names the form to transform to, and the check in that form is allowed.
    check(planning, 4, IN_STREET, "FORM_BINNED", ("DECISION_DENY", "REASON_FORM_NOT_COVERED", "FORM_AGGREGATED"))
    check(planning, 4, IN_STREET, "FORM_AGGREGATED", ("DECISION_ALLOW", "REASON_GRANTED", "FORM_AGGREGATED"))
    # Sensor 3 named as a camera (as a later policy version might number it): the grant's version
    # gives id 3 to an air-quality sensor, so it is not covered; without a kind, it is missing.
    check(monitoring, 3, IN_STREET, "FORM_PSEUDONYMISED",
          ("DECISION_DENY", "REASON_SENSOR_NOT_COVERED", "FORM_PSEUDONYMISED"), kind="SENSOR_KIND_CAMERA")
    check(monitoring, 3, IN_STREET, "FORM_PSEUDONYMISED",
          ("DECISION_DENY", "REASON_CONTEXT_MISSING_SENSOR", "FORM_PSEUDONYMISED"), kind="SENSOR_KIND_UNSPECIFIED")

    # A cell that is not an H3 cell (a reserved bit set) is refused, not decided.
    bad = IN_STREET | 1 << 56
    if scope.is_cell(bad):
        raise SystemExit("the bad cell is a cell")
    try:
        consent.Check(consent_pb2.CheckRequest(
            subject=citizen.feed, collector=collector.feed, purpose=vocab_pb2.PURPOSE_ENVIRONMENTAL_MONITORING,
            category=vocab_pb2.DATA_CATEGORY_ENVIRONMENTAL,
            context=consent_pb2.ObservationContext(sensor=3, cell=bad, observed_ms=observed,
                                                   form=vocab_pb2.FORM_PSEUDONYMISED,
                                                   sensor_kind=vocab_pb2.SENSOR_KIND_AIR_QUALITY)), metadata=bearer)
        raise SystemExit("a check with a cell that is not an H3 cell was answered")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.INVALID_ARGUMENT or "is not an H3 cell index" not in (e.details() or ""):
            raise SystemExit(f"unexpected error for a bad cell: {e.code()} {e.details()}")
        print(f"  check with a bad cell refused: {e.details()}")

    # A sensor kind without a sensor id names no sensor: refused, not decided.
    try:
        consent.Check(consent_pb2.CheckRequest(
            subject=citizen.feed, collector=collector.feed, purpose=vocab_pb2.PURPOSE_ENVIRONMENTAL_MONITORING,
            category=vocab_pb2.DATA_CATEGORY_ENVIRONMENTAL,
            context=consent_pb2.ObservationContext(cell=IN_STREET, observed_ms=observed,
                                                   form=vocab_pb2.FORM_PSEUDONYMISED,
                                                   sensor_kind=vocab_pb2.SENSOR_KIND_CAMERA)), metadata=bearer)
        raise SystemExit("a check naming a sensor kind without a sensor was answered")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.INVALID_ARGUMENT or "context.sensor_kind" not in (e.details() or ""):
            raise SystemExit(f"unexpected error for a kind without a sensor: {e.code()} {e.details()}")
        print(f"  check with a sensor kind alone refused: {e.details()}")
    return policy


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", required=True, help="host:port or http://host:port (plain text), https://host:port (TLS)")
    ap.add_argument("--out", required=True, help="directory for the generated protobuf/gRPC code")
    ap.add_argument("--ca-cert", help="PEM file of the CA that signs the node's certificate (default: this system's)")
    ap.add_argument("--client-cert", help="PEM file of a client certificate, for a node that requires one (mutual TLS)")
    ap.add_argument("--client-key", help="PEM file of the client certificate's private key")
    args = ap.parse_args()
    node = Node(args)
    generate(args.out)

    import grpc
    from consent.v1 import entry_pb2, vocab_pb2, ledger_pb2, ledger_pb2_grpc, consent_pb2, consent_pb2_grpc
    from consent.v1 import node_pb2, node_pb2_grpc, consultation_pb2, consultation_pb2_grpc

    class PB:  # one namespace for the message types used above
        pass

    for module in (entry_pb2, vocab_pb2):
        for name in dir(module):
            setattr(PB, name, getattr(module, name))

    channel = node.connect(grpc, node_pb2, node_pb2_grpc)
    ledger = ledger_pb2_grpc.LedgerStub(channel)
    consent = consent_pb2_grpc.ConsentStub(channel)

    def submit(signed, what):
        r = ledger.Submit(ledger_pb2.SubmitRequest(entry=signed))
        if r.status not in (ledger_pb2.SUBMIT_STATUS_ACCEPTED, ledger_pb2.SUBMIT_STATUS_DUPLICATE):
            raise SystemExit(f"{what}: unexpected status {r.status}")
        if r.entry_id != entry_id(signed):
            raise SystemExit(f"{what}: node computed entry id {r.entry_id.hex()}, we computed {entry_id(signed).hex()}")
        receipt = ledger_pb2.ReceiptPayload.FromString(r.receipt.payload)
        Ed25519PublicKey.from_public_bytes(receipt.node).verify(r.receipt.signature, RECEIPT_SIGNATURE + r.receipt.payload)
        if receipt.entry_id != entry_id(signed):
            raise SystemExit(f"{what}: receipt names another entry")
        print(f"  {what}: accepted at log index {receipt.index}, receipt verified")

    def grouped(receipt, domain, what):
        """A receipt of a call that asked for groups (crate docs, "Receipt groups"): signed in a
        group (leaf hash over the kind's domain, the receipt's salt and its payload; the path
        leads to the group's root; the signature covers receipt-group domain || root || size), or
        alone (a node may always answer so)."""
        node = ledger_pb2.ReceiptPayload.FromString(receipt.payload).node if domain == RECEIPT_SIGNATURE \
            else consent_pb2.DecisionPayload.FromString(receipt.payload).node
        if not receipt.HasField("group"):
            Ed25519PublicKey.from_public_bytes(node).verify(receipt.signature, domain + receipt.payload)
            print(f"  {what}: receipt signed alone, verified")
            return
        place = receipt.group
        if not 1 <= place.size <= 65_536 or place.index >= place.size or len(place.salt) != 32 \
                or any(len(p) != 32 for p in place.path):
            raise SystemExit(f"{what}: a malformed receipt group")
        r = root_from_path(place.index, place.size,
                           hashlib.sha256(b"\x00" + domain + place.salt + receipt.payload).digest(), list(place.path))
        if r is None:
            raise SystemExit(f"{what}: the group path does not fit its place")
        Ed25519PublicKey.from_public_bytes(node).verify(
            receipt.signature, b"consent-ledger/receipt-group/v1" + r + place.size.to_bytes(8, "big"))
        print(f"  {what}: receipt {place.index + 1} of a group of {place.size}, verified")

    def key(label):
        return Ed25519PrivateKey.from_private_bytes(blake3.blake3(label).digest())

    now = int(time.time() * 1000)
    print("dev registrar, re-derived from the documented seeds")
    registrar = Feed(PB, vocab_pb2.ROLE_REGISTRAR, key(b"consent-ledger/dev-registrar/v1/key0"),
                     key(b"consent-ledger/dev-registrar/v1/key1"), MIN_TIME_MS)
    submit(registrar.inception, "registrar inception")
    head = ledger.GetHead(ledger_pb2.GetHeadRequest(feed=registrar.feed))
    registrar.seq, registrar.head = head.seq, head.head

    collector = Feed(PB, vocab_pb2.ROLE_COLLECTOR, Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), now)
    submit(collector.inception, "collector inception")
    policy = collector.append(now, policy=PB.Policy(
        version=1, name="Python Air Quality Lab", purposes=[vocab_pb2.PURPOSE_ACADEMIC_RESEARCH],
        categories=[vocab_pb2.DATA_CATEGORY_ENVIRONMENTAL, vocab_pb2.DATA_CATEGORY_LOCATION], retention_days=365,
        jurisdiction="EU/GDPR", document_digest=h(b"policy text"), document_url="https://lab.example/privacy",
        contact="dpo@lab.example"))
    submit(policy, "policy")
    accreditation = registrar.append(now, accreditation=PB.Accreditation(collector=collector.feed, valid_until=now + 86_400_000))
    submit(accreditation, "accreditation")

    citizen = Feed(PB, vocab_pb2.ROLE_CITIZEN, Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), now)
    submit(citizen.inception, "citizen inception")
    grant = citizen.append(now, grant=PB.Grant(
        collector=collector.feed, policy=entry_id(policy), purposes=[vocab_pb2.PURPOSE_ACADEMIC_RESEARCH],
        categories=[vocab_pb2.DATA_CATEGORY_ENVIRONMENTAL], retention_days=30, valid_from=now))
    submit(grant, "grant")

    # The collector's session: a statement signed with its current key, bound to this node.
    # Node.NodeKey answers the key alone (Node.Status carries it too, in a longer answer).
    node_key = node_pb2_grpc.NodeStub(channel).NodeKey(node_pb2.NodeKeyRequest()).node_key
    t = int(time.time() * 1000)
    statement = node_key + collector.feed + t.to_bytes(8, "big")
    session = consent.Authenticate(consent_pb2.AuthenticateRequest(
        collector=collector.feed, node_key=node_key, time_ms=t, signature=collector.key.sign(AUTH + statement)))
    bearer = (("authorization", "Bearer " + session.token),)
    print(f"  collector session until {session.expires_ms}")
    question = consent_pb2.CheckRequest(
        subject=citizen.feed, collector=collector.feed, purpose=vocab_pb2.PURPOSE_ACADEMIC_RESEARCH,
        category=vocab_pb2.DATA_CATEGORY_ENVIRONMENTAL)
    try:
        consent.Check(question)
        raise SystemExit("a check without a session was answered")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.UNAUTHENTICATED:
            raise SystemExit(f"unexpected error for a check without a session: {e.code()} {e.details()}")
        print(f"  check without a session refused: {e.details()}")

    def check(expected_decision, expected_reason):
        r = consent.Check(question, metadata=bearer)
        name = consent_pb2.Decision.Name(r.decision)
        print(f"  check: {name} ({consent_pb2.Reason.Name(r.reason)})")
        if (r.decision, r.reason) != (expected_decision, expected_reason):
            raise SystemExit("unexpected decision")
        if r.grant != entry_id(grant) or r.subject_head != citizen.head:
            raise SystemExit("decision names the wrong grant or head")

    check(consent_pb2.DECISION_ALLOW, consent_pb2.REASON_GRANTED)
    # Receipts signed in groups, on request: the grant submitted again (a duplicate) and a check.
    group_form = (("consent-receipt-form", "group"),)
    again = ledger.Submit(ledger_pb2.SubmitRequest(entry=grant), metadata=group_form)
    if again.status != ledger_pb2.SUBMIT_STATUS_DUPLICATE:
        raise SystemExit(f"the grant again: unexpected status {again.status}")
    grouped(again.receipt, RECEIPT_SIGNATURE, "the grant again")
    asked = consent_pb2.CheckRequest()
    asked.CopyFrom(question)
    asked.receipt = True
    signed = consent.Check(asked, metadata=bearer + group_form)
    grouped(signed.receipt, DECISION_SIGNATURE, "a check with a receipt")
    # The collector watches what concerns it (from the beginning), in its session.
    stream = consent.Watch(consent_pb2.WatchRequest(heartbeat_ms=200), metadata=bearer)
    revocation = citizen.append(now, revoke=PB.Revoke(grant=entry_id(grant), erase=True))
    submit(revocation, "revocation")
    check(consent_pb2.DECISION_DENY, consent_pb2.REASON_REVOKED)
    seen, cursor = [], b""
    for event in stream:
        if event.kind == consent_pb2.WATCH_KIND_HEARTBEAT:
            continue
        seen.append(consent_pb2.WatchKind.Name(event.kind))
        cursor = event.cursor
        # Every event carries the signed entry: exactly one of ours, byte for byte.
        if entry_id(event.entry) not in (entry_id(accreditation), entry_id(grant), entry_id(revocation)):
            raise SystemExit("a watch event carries an entry we did not write")
        if event.kind == consent_pb2.WATCH_KIND_REVOKE:
            if not event.erase or event.grant != entry_id(grant) or entry_id(event.entry) != entry_id(revocation):
                raise SystemExit("the revoke event does not match the revocation")
            break
    stream.cancel()
    if seen != ["WATCH_KIND_ACCREDITED", "WATCH_KIND_GRANT", "WATCH_KIND_REVOKE"]:
        raise SystemExit(f"unexpected watch events: {seen}")
    print(f"  watch: {', '.join(seen)} (erase requested); resume cursor {cursor.hex()}")
    # The collector erases what it stored under the grant, then says so in its own feed.
    ack = collector.append(int(time.time() * 1000), ack=PB.Ack(request=entry_id(revocation), outcome=vocab_pb2.ACK_OUTCOME_DONE))
    submit(ack, "erasure acknowledged")
    answers = node_pb2_grpc.NodeStub(channel).AnswerTimes(node_pb2.AnswerTimesRequest(collector=collector.feed))
    if (answers.requests, answers.answered, answers.unanswered) != (1, 1, 0):
        raise SystemExit(f"answer times do not count the ack: {answers}")
    print(f"  answer times: {answers.answered} of {answers.requests} acknowledged, median {answers.median_ms} ms")
    # Resuming after the last event gives nothing more but heartbeats.
    resumed = consent.Watch(consent_pb2.WatchRequest(cursor=cursor, heartbeat_ms=100), metadata=bearer)
    first = next(iter(resumed))
    resumed.cancel()
    if first.kind != consent_pb2.WATCH_KIND_HEARTBEAT:
        raise SystemExit(f"resume repeated an event: {consent_pb2.WatchKind.Name(first.kind)}")
    print("  watch resumed from the cursor: nothing repeated")

    def new_citizen(t):
        return Feed(PB, vocab_pb2.ROLE_CITIZEN, Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), t)

    print("delegation: a delegate grants in a person's name, until undelegated")
    import delegation

    def verify(key, message, signature):
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)

    delegation.walk(grpc, PB, vocab_pb2, consent_pb2, ledger_pb2, ledger, consent, collector, entry_id(policy),
                    submit, new_citizen, entry_id, bearer, node_key, DECISION_SIGNATURE, verify)

    print("scope: a street's zones, sensors, window and forms")
    street = scoped_walk(grpc, PB, vocab_pb2, consent_pb2, consent, collector, node_key, bearer, submit)

    print("consultation: a draft, stances, and a grant under it")
    import consultation

    consultation.walk(grpc, PB, vocab_pb2, consultation_pb2, consultation_pb2_grpc, channel, collector, street, submit,
                      new_citizen, entry_id, h)

    # A tampered entry is refused with INVALID_ARGUMENT naming the reason.
    bad = citizen.append(now, request=PB.Request(collector=collector.feed, kind=vocab_pb2.REQUEST_KIND_ACCESS))
    bad.signature = bytes([bad.signature[0] ^ 1]) + bad.signature[1:]
    try:
        ledger.Submit(ledger_pb2.SubmitRequest(entry=bad))
        raise SystemExit("a tampered entry was accepted")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.INVALID_ARGUMENT or "bad-signature" not in e.details():
            raise SystemExit(f"unexpected error for a tampered entry: {e.code()} {e.details()}")
        print(f"  tampered entry refused: {e.details()}")
    print("python client: all steps passed")


if __name__ == "__main__":
    main()
