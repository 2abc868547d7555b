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
verifying every entry id and receipt signature on the way. Exits non-zero on any mismatch.

Usage: python_client.py --node 127.0.0.1:50051 --out GENERATED_DIR
"""
import argparse
import os
import subprocess
import sys
import time

import blake3
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives import serialization

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_DIR = os.path.join(ROOT, "proto")

ENTRY_SIGNATURE = b"consent-ledger/entry/v1"
ENTRY_ID = b"consent-ledger/entry-id/v1"
FEED_ID = b"consent-ledger/feed-id/v1"
NEXT_KEY = b"consent-ledger/next-key/v1"
RECEIPT_SIGNATURE = b"consent-ledger/receipt/v1"
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


def h(*parts):
    return blake3.blake3(b"".join(parts)).digest()


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    generate(args.out)

    import grpc
    from consent.v1 import entry_pb2, vocab_pb2, ledger_pb2, ledger_pb2_grpc, consent_pb2, consent_pb2_grpc
    from consent.v1 import node_pb2, node_pb2_grpc

    class PB:  # one namespace for the message types used above
        pass

    for module in (entry_pb2, vocab_pb2):
        for name in dir(module):
            setattr(PB, name, getattr(module, name))

    channel = grpc.insecure_channel(args.node)
    grpc.channel_ready_future(channel).result(timeout=30)
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
