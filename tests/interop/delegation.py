"""Delegation, written from the consent-proto crate docs ("Delegation") and the .proto comments
alone: a delegate signs in its own feed, naming the person and the delegation it relies on
(`on_behalf`); what it signs counts only when signed inside the delegation as the undelegations
present end it.

- `walk`: against a node, a person delegates granting to a delegate feed, the delegate grants in
  the person's name (the check allows and names the delegation, in its answer and its signed
  receipt), a request it has no power for is refused (power-not-delegated), the person
  undelegates with an explicit void_from_ms, and a grant the delegate signs after it is accepted
  but denied (DELEGATION_WITHDRAWN) while the earlier one still allows; ListDelegations and
  ListDelegated say the same;
- `check_vectors`: the `delegations` history of the test vectors replayed (ids, signatures, the
  chain), their bodies at fields 22, 23 and 24, and the rule's time arithmetic (coming of age,
  the default void_from) recomputed; every `delegation_decisions` case decided by `decide` below
  (steps 5 and 6 of the rule with delegated grants) and compared with the stated answer.
"""
import calendar
import time

MAX_CLOCK_SKEW_MS = 300_000
DAY_MS = 86_400_000


def coming_of_age_ms(year, month, day):
    """UTC midnight of the date, Unix ms: a guardian delegation's valid_until (days_from_civil)."""
    y = year - (1 if month <= 2 else 0)
    era = y // 400
    yoe = y - era * 400
    mp = month - 3 if month > 2 else month + 9
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return (era * 146_097 + doe - 719_468) * DAY_MS


def void_from(void_from_ms, time_ms):
    """From when an undelegation signed at time_ms voids its delegation."""
    return void_from_ms if void_from_ms else max(time_ms - MAX_CLOCK_SKEW_MS, 0)


def counts(from_ms, end_ms, signed_ms):
    """Whether a statement signed at signed_ms under a delegation counts."""
    return from_ms <= signed_ms < end_ms


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def walk(grpc, pb, vocab_pb2, consent_pb2, ledger_pb2, ledger, consent, collector, policy_id, submit,
         new_feed, entry_id, bearer, node_key, decision_domain, verify):
    """Against a node (see the module's docs). `policy_id` is the collector's policy in effect
    (purpose ACADEMIC_RESEARCH, categories ENVIRONMENTAL and LOCATION, no scope); `bearer` the
    collector's session; `verify(key, message, signature)` raises on a bad signature."""
    t = int(time.time() * 1000)
    person, delegate = new_feed(t), new_feed(t)
    submit(person.inception, "person inception")
    # The delegation may name a delegate feed no node knows yet.
    delegation = person.append(t, delegation=pb.Delegation(
        delegate=delegate.feed, powers=[vocab_pb2.DELEGATED_POWER_GRANT], collectors=[collector.feed],
        kind=vocab_pb2.DELEGATION_KIND_ASSISTANT))
    submit(delegation, "delegation (grant, one collector, until undelegated)")
    delegation_id = entry_id(delegation)
    # Field 22 of EntryPayload (length-delimited): key b2 01.
    encoded = pb.EntryPayload.FromString(delegation.payload).delegation.SerializeToString()
    if not delegation.payload.endswith(varint(22 << 3 | 2) + varint(len(encoded)) + encoded):
        raise SystemExit("a Delegation is not field 22 of the payload")
    submit(delegate.inception, "delegate inception")
    on_behalf = pb.OnBehalf(person=person.feed, delegation=delegation_id)

    def grant(category, t):
        return delegate.append(t, grant=pb.Grant(
            collector=collector.feed, policy=policy_id, purposes=[vocab_pb2.PURPOSE_ACADEMIC_RESEARCH],
            categories=[category], retention_days=30, valid_from=t, on_behalf=on_behalf))

    first = grant(vocab_pb2.DATA_CATEGORY_ENVIRONMENTAL, int(time.time() * 1000))
    submit(first, "grant in the person's name (environmental)")

    def check(category, receipt=False):
        return consent.Check(consent_pb2.CheckRequest(
            subject=person.feed, collector=collector.feed, purpose=vocab_pb2.PURPOSE_ACADEMIC_RESEARCH,
            category=category, receipt=receipt), metadata=bearer)

    r = check(vocab_pb2.DATA_CATEGORY_ENVIRONMENTAL, receipt=True)
    if (r.decision, r.reason, r.grant) != (consent_pb2.DECISION_ALLOW, consent_pb2.REASON_GRANTED, entry_id(first)):
        raise SystemExit(f"the delegate's grant does not allow: {r}")
    used = (r.delegated.delegation, r.delegated.delegate, r.delegated.kind, r.delegated.endorsement)
    if used != (delegation_id, delegate.feed, vocab_pb2.DELEGATION_KIND_ASSISTANT, b""):
        raise SystemExit(f"the answer names another delegation: {r.delegated}")
    p = consent_pb2.DecisionPayload.FromString(r.receipt.payload)
    if p.node != node_key:
        raise SystemExit("the receipt is signed by another node key")
    verify(p.node, decision_domain + r.receipt.payload, r.receipt.signature)
    if p.delegated != r.delegated:
        raise SystemExit("the signed receipt names another delegation than the answer")
    if r.receipt.HasField("delegation_inclusion") and r.receipt.delegation_inclusion.entry_id != delegation_id:
        raise SystemExit("the receipt proves another entry than the delegation")
    print("  check: DECISION_ALLOW, naming the delegation (answer and signed receipt)")

    # A power the delegation does not give: refused, and the delegate's feed is unchanged.
    seq, head = delegate.seq, delegate.head
    try:
        ledger.Submit(ledger_pb2.SubmitRequest(entry=delegate.append(int(time.time() * 1000), request=pb.Request(
            collector=collector.feed, kind=vocab_pb2.REQUEST_KIND_ACCESS, on_behalf=on_behalf))))
        raise SystemExit("a request without the power was accepted")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.INVALID_ARGUMENT or "power-not-delegated" not in (e.details() or ""):
            raise SystemExit(f"unexpected error for a request without the power: {e.code()} {e.details()}")
        print(f"  request without the power refused: {e.details()}")
    delegate.seq, delegate.head = seq, head

    # The person withdraws from now on (an explicit void_from_ms); what the delegate signs later is
    # still valid, but does not count.
    t_u = max(int(time.time() * 1000), first_time(pb, first) + 1)
    undelegation = person.append(t_u, undelegation=pb.Undelegation(delegation=delegation_id, void_from_ms=t_u))
    submit(undelegation, "undelegation, void from its own time")
    later = grant(vocab_pb2.DATA_CATEGORY_LOCATION, max(int(time.time() * 1000), t_u))
    submit(later, "a later grant in the person's name (location)")
    r = check(vocab_pb2.DATA_CATEGORY_LOCATION)
    if (r.decision, r.reason, r.grant) != (consent_pb2.DECISION_DENY, consent_pb2.REASON_DELEGATION_WITHDRAWN,
                                           entry_id(later)):
        raise SystemExit(f"a grant signed after the undelegation's bound counts: {r}")
    if not counts(first_time(pb, delegation), void_from(t_u, t_u), first_time(pb, first)):
        raise SystemExit("the rule, as written here, says the first grant no longer counts")
    r = check(vocab_pb2.DATA_CATEGORY_ENVIRONMENTAL)
    if r.decision != consent_pb2.DECISION_ALLOW:
        raise SystemExit(f"the grant signed before the undelegation stopped counting: {r}")
    print("  after the undelegation: the later grant DELEGATION_WITHDRAWN, the earlier one still allows")

    # The node's lists: the delegation with its end, and what the delegate signed, in order.
    for feed, whose in ((person.feed, "person"), (delegate.feed, "delegate")):
        listed = ledger.ListDelegations(ledger_pb2.ListDelegationsRequest(feed=feed)).delegations
        if [(d.entry.id, d.end_ms, list(d.undelegations)) for d in listed] != [
                (delegation_id, t_u, [entry_id(undelegation)])]:
            raise SystemExit(f"ListDelegations of the {whose} feed: {listed}")
    signed = [x.id for x in ledger.ListDelegated(ledger_pb2.ListDelegatedRequest(person=person.feed))]
    if signed != [entry_id(first), entry_id(later)]:
        raise SystemExit(f"ListDelegated: {[s.hex() for s in signed]}")
    print("  ListDelegations (end and undelegation) and ListDelegated (both grants) agree")


def first_time(pb, signed):
    """The signed time of an entry."""
    return pb.EntryPayload.FromString(signed.payload).time_ms


def check_vectors(v, c, replay, entry_pb2):
    """The `delegations` section: every entry replayed; each new body is its own field."""
    # The rule's time arithmetic, against Python's own calendar.
    for date in ((2034, 5, 1), (2000, 2, 29), (1970, 1, 1), (2038, 12, 31)):
        c.eq(coming_of_age_ms(*date), calendar.timegm(date + (0, 0, 0)) * 1000, f"coming of age {date}")
    c.eq(void_from(0, 1_000_000), 700_000, "default void_from: 5 minutes before")
    c.eq(void_from(0, 1_000), 0, "default void_from saturates")
    c.eq(void_from(5, 1_000), 5, "explicit void_from")
    section = v["delegations"]
    c.eq(section["comes_of_age_ms"], coming_of_age_ms(2034, 5, 1), "delegations: the child comes of age 2034-05-01")
    entries = section["history"]
    for e in entries:
        replay(e)
    kinds = {next(iter(e["body"])) for e in entries}
    for kind, field in (("delegation", 22), ("undelegation", 23), ("endorsement", 24)):
        c.true(kind in kinds, f"delegations: a {kind} entry")
        key = varint(field << 3 | 2)
        for e in entries:
            if kind in e["body"]:
                payload = bytes.fromhex(e["payload"])
                message = getattr(entry_pb2.EntryPayload.FromString(payload), kind)
                encoded = message.SerializeToString()
                c.true(payload.endswith(key + varint(len(encoded)) + encoded),
                       f"{e['name']}: the {kind} is field {field} ({key.hex()} <len>)")
    on_behalf = [e for e in entries if any(isinstance(f, dict) and "on_behalf" in f for f in e["body"].values())]
    c.true(on_behalf, "delegations: an entry signed in someone's name")
    for e in on_behalf:
        fields = next(iter(e["body"].values()))
        c.true(fields["on_behalf"]["person"] != e["feed"], f"{e['name']}: never in the person's own feed")


SALE = {"PURPOSE_SELL_DATA", "PURPOSE_THIRD_PARTY_SHARING"}
NO_END = 2 ** 64


def delegation_end(d):
    """A delegation's end: its valid_until (0: none), moved earlier by each undelegation's void_from."""
    end = d["valid_until"] or NO_END
    for u in d["undelegations"]:
        end = min(end, void_from(u["void_from_ms"], u["time_ms"]))
    return end


def delegation_counts(d, signed_ms):
    """Whether a statement signed at signed_ms counts under delegation d."""
    return counts(d["time_ms"], delegation_end(d), signed_ms)


def counting_endorsement(dg):
    """The endorsement that completes a 2-of-2 grant: by the co-signer, under its own delegation,
    signed while that delegation counts; the earliest by (time, id). None when none counts."""
    co = dg["delegation"]["co_signer"]
    best = None
    for e in dg["endorsements"]:
        if e["endorser"] != co or e["delegation"]["delegate"] != e["endorser"]:
            continue
        if not delegation_counts(e["delegation"], e["time_ms"]):
            continue
        key = (e["time_ms"], bytes.fromhex(e["id"]))
        if best is None or key < best:
            best = key
    return None if best is None else best[1].hex()


def decide(case):
    """Steps 5 and 6 with delegated grants, for one `delegation_decisions` case: (decision, reason,
    grant, delegated)."""
    q = case["question"]

    def failure(g, dg):
        if g["revoked"]:
            return "REASON_REVOKED"
        if q["purpose"] in SALE:
            by_delegate = case["delegated_opt_out_ms"] is not None and case["delegated_opt_out_ms"] >= g["time_ms"]
            if dg is None:
                own = case["opt_out_seq"] is not None and case["opt_out_seq"] > g["seq"]
            else:
                own = case["opt_out_ms"] is not None and case["opt_out_ms"] >= g["time_ms"]
            if own or by_delegate:
                return "REASON_OPTED_OUT"
        if dg is not None:
            if not delegation_counts(dg["delegation"], g["time_ms"]):
                return "REASON_DELEGATION_WITHDRAWN"
            if dg["delegation"]["co_signer"] and counting_endorsement(dg) is None:
                return "REASON_ENDORSEMENT_MISSING"
        if q["at_ms"] < g["valid_from"]:
            return "REASON_NOT_YET_VALID"
        if g["valid_until"] and q["at_ms"] >= g["valid_until"]:
            return "REASON_EXPIRED"
        return None

    own = [(g, None, g["seq"]) for g in case["own"]]
    theirs = [(dg["grant"], dg, (dg["grant"]["time_ms"], bytes.fromhex(dg["grant"]["id"]))) for dg in case["delegated"]]
    covers = lambda g: q["purpose"] in g["purposes"] and q["category"] in g["categories"]  # noqa: E731
    tiers = (lambda g, dg: covers(g) and failure(g, dg) is None,
             lambda g, dg: covers(g),
             lambda g, dg: q["purpose"] in g["purposes"],
             lambda g, dg: True)
    for tier, matches in enumerate(tiers):
        # The subject's own grants first (newest by seq), then delegated ones (newest by time, id).
        for candidates in (own, theirs):
            found = [x for x in candidates if matches(x[0], x[1])]
            if not found:
                continue
            g, dg, _ = max(found, key=lambda x: x[2])
            reason = ("REASON_GRANTED", failure(g, dg) or "REASON_NO_GRANT",
                      "REASON_CATEGORY_NOT_COVERED", "REASON_PURPOSE_NOT_COVERED")[tier]
            used = None
            if dg is not None:
                d = dg["delegation"]
                used = {"delegation": d["id"], "delegate": d["delegate"], "kind": d["kind"],
                        "endorsement": counting_endorsement(dg) or ""}
            return ("DECISION_ALLOW" if tier == 0 else "DECISION_DENY", reason, g["id"], used)
    return ("DECISION_DENY", "REASON_NO_GRANT", "", None)


def check_decisions(v, c):
    """Every `delegation_decisions` case decided here as the spec says, against its stated answer."""
    cases = v["delegation_decisions"]["cases"]
    c.true(len(cases) >= 1000, "delegation decisions: 1,000 cases")
    reasons = set()
    for i, case in enumerate(cases):
        want = (case["decision"], case["reason"], case["grant"], case["answer_delegated"])
        c.eq(decide(case), want, f"delegation decision {i}")
        reasons.add(case["reason"])
    for reason in ("REASON_GRANTED", "REASON_DELEGATION_WITHDRAWN", "REASON_ENDORSEMENT_MISSING",
                   "REASON_OPTED_OUT"):
        c.true(reason in reasons, f"delegation decisions: {reason} decided at least once")
