#!/usr/bin/env python3
"""Consultations, written from the consent-proto crate docs alone (section "Consultations") and
the `.proto` comments, not from the Rust code:

- the state of a consultation and when its draft takes effect (`state`, `in_effect_from`: the
  spec's pure function of the draft, the collector's next version and the counted outcomes: not
  from a frozen registrar, before the next version; a request for changes outweighs approvals);
- what widens (`compare`: the table of "What widens" and the order of its items);
- counting stances (`count`: the latest stance of each feed, split into feeds that hold a grant
  naming the collector and others) and the reasons raised at a threshold (`raised`);
- `walk`: python_client.py's step 5 against a node: a draft, stances, a malformed stance, a grant
  under the draft, and the node's consultation read back;
- `check_vectors`: vectors.py's checks of the consultation sections of the test vectors.

Reasons are named as the spec names them (`retention-too-long`); the `.proto` names
(`OBJECTION_REASON_RETENTION_TOO_LONG`) are accepted too.

Run alone (`python3 consultation.py`), it checks the worked examples below.
"""
import time

DAY_MS = 86_400_000
ALWAYS = 0  # in_effect_from of a version that is no draft
NEVER = 2**64 - 1  # ... of a draft not (yet) in effect
REASONS = ("purpose-too-broad", "retention-too-long", "third-party-sharing", "not-anonymised-enough",
           "sensor-placement", "other")  # in wire order, 1..=6


def reason_name(r):
    """`retention-too-long` from either spelling (or a wire number)."""
    if isinstance(r, int):
        return REASONS[r - 1]
    if r.startswith("OBJECTION_REASON_"):
        return r[len("OBJECTION_REASON_"):].lower().replace("_", "-")
    return r


# ---- State and effect (spec, "Consultations": the state of a consultation) ----


def state(d, now_ms):
    """(name, at_ms) of the consultation on draft facts `d` at `now_ms`: `d` has closes_ms,
    superseded_ms (the time of the collector's next Policy entry, or None) and outcomes (every
    valid outcome naming it: {id (hex), time_ms, approved, frozen}; frozen: its registrar feed is
    frozen)."""
    s = d.get("superseded_ms")
    counted = [o for o in d.get("outcomes", [])
               if not o.get("frozen") and (s is None or o["time_ms"] < s)]
    key = lambda o: (o["time_ms"], bytes.fromhex(o.get("id", "")))  # noqa: E731
    changes = sorted((o for o in counted if not o["approved"]), key=key)
    approvals = sorted((o for o in counted if o["approved"]), key=key)
    if changes:  # fail closed: any counted request for changes decides
        return ("changes-required", changes[0]["time_ms"])
    if approvals:
        return ("approved", approvals[0]["time_ms"])
    if s is not None:
        return ("withdrawn", s)
    if now_ms < d["closes_ms"]:
        return ("open", 0)
    return ("awaiting-outcome", 0)


def in_effect_from(d):
    """When the draft's version takes effect: ALWAYS for a version that does not widen (`gated`
    false), the approving outcome's time for an approved draft, else NEVER."""
    if not d["gated"]:
        return ALWAYS
    name, at = state(d, 0)
    return at if name == "approved" else NEVER


# ---- Counting (spec, "Consultations": counting) ----


def tally():
    return {"support": 0, "object": 0, "reasons": {}}


def count(stances):
    """Counts of the latest stance (highest seq) of each feed: {affected, others}, each
    {support, object, reasons: {name: n}} (reasons with a non-zero count only)."""
    latest = {}
    for s in stances:
        if s["feed"] not in latest or s["seq"] > latest[s["feed"]]["seq"]:
            latest[s["feed"]] = s
    out = {"affected": tally(), "others": tally()}
    for s in latest.values():
        t = out["affected" if s["affected"] else "others"]
        if s["support"]:
            t["support"] += 1
        else:
            t["object"] += 1
            for r in s["reasons"]:
                name = reason_name(r)
                t["reasons"][name] = t["reasons"].get(name, 0) + 1
    return out


def raised(counts, threshold):
    """Reasons given by at least `threshold` objecting stances, both groups together."""
    total = {}
    for group in ("affected", "others"):
        for r, n in counts[group]["reasons"].items():
            total[r] = total.get(r, 0) + n
    return [r for r in REASONS if total.get(r, 0) >= threshold]


# ---- python_client.py, step 5 ----


def walk(grpc, pb, vocab_pb2, consultation_pb2, consultation_pb2_grpc, channel, collector, previous, submit,
         new_feed, entry_id, h):
    """Against a node: the collector's next version adds a purpose, under consultation for a day (a
    draft: it widens); a citizen objects (retention too long, other; with a details digest), then
    supports (replacing it); a support giving a reason is malformed (bad-field); a grant under the
    draft is refused (policy-draft, FAILED_PRECONDITION); GetConsultation counts one supporting
    stance of a feed without a grant. `previous` is the collector's latest Policy entry (signed);
    `new_feed(t)` makes a citizen feed."""
    t = int(time.time() * 1000)
    policy = pb.Policy()
    policy.CopyFrom(pb.EntryPayload.FromString(previous.payload).policy)
    policy.version += 1
    policy.purposes.append(vocab_pb2.PURPOSE_RESEARCH)
    policy.consultation.CopyFrom(pb.PolicyConsultation(closes_ms=t + DAY_MS))
    draft = collector.append(t, policy=policy)
    submit(draft, f"policy v{policy.version} adding research, under consultation for a day")
    draft_id = entry_id(draft)

    citizen = new_feed(t)
    submit(citizen.inception, "third citizen inception")
    objection = citizen.append(t, stance=pb.Stance(
        draft=draft_id, kind=vocab_pb2.STANCE_KIND_OBJECT, details_digest=h(b"why I object, published elsewhere"),
        reasons=[vocab_pb2.OBJECTION_REASON_RETENTION_TOO_LONG, vocab_pb2.OBJECTION_REASON_OTHER]))
    submit(objection, "objection (retention too long, other; a details digest)")
    submit(citizen.append(t, stance=pb.Stance(draft=draft_id, kind=vocab_pb2.STANCE_KIND_SUPPORT)),
           "support, replacing the objection")

    def refused(body, code, reason, what):
        seq, head = citizen.seq, citizen.head
        try:
            submit(citizen.append(t, **body), what)
            raise SystemExit(f"{what} was accepted")
        except grpc.RpcError as e:
            if e.code() != code or reason not in (e.details() or ""):
                raise SystemExit(f"unexpected error for {what}: {e.code()} {e.details()}")
            print(f"  {what} refused: {e.details()}")
        citizen.seq, citizen.head = seq, head  # the refused entry is not in the feed

    refused({"stance": pb.Stance(draft=draft_id, kind=vocab_pb2.STANCE_KIND_SUPPORT,
                                 reasons=[vocab_pb2.OBJECTION_REASON_OTHER])},
            grpc.StatusCode.INVALID_ARGUMENT, "bad-field", "a support giving a reason")
    refused({"grant": pb.Grant(collector=collector.feed, policy=draft_id, purposes=[vocab_pb2.PURPOSE_RESEARCH],
                               categories=[vocab_pb2.DATA_CATEGORY_ENVIRONMENTAL], retention_days=30,
                               valid_from=t)},
            grpc.StatusCode.FAILED_PRECONDITION, "policy-draft", "a grant under the draft")

    stub = consultation_pb2_grpc.ConsultationsStub(channel)
    c = stub.GetConsultation(consultation_pb2.GetConsultationRequest(draft=draft_id))
    s = c.summary
    if (s.draft, s.collector, s.version, s.closes_ms) != (draft_id, collector.feed, policy.version, t + DAY_MS):
        raise SystemExit(f"GetConsultation describes another consultation: {s}")
    if not s.widening or s.state != consultation_pb2.CONSULTATION_STATE_OPEN:
        raise SystemExit(f"the draft is not an open widening: {s}")
    a, o = s.counts.affected, s.counts.others
    if (a.support, a.object, o.support, o.object, len(o.reasons)) != (0, 0, 1, 0, 0):
        raise SystemExit(f"unexpected counts: {s.counts}")
    if c.draft.payload != draft.payload:
        raise SystemExit("GetConsultation returns another draft entry")
    widening = [i.code for cmp in c.compared for i in cmp.items
                if i.direction == consultation_pb2.CHANGE_DIRECTION_WIDENS]
    if "purposes" not in widening:
        raise SystemExit(f"the comparison does not say the purposes widen: {list(c.compared)}")
    listed = stub.ListConsultations(consultation_pb2.ListConsultationsRequest(collector=collector.feed))
    if draft_id not in [x.draft for x in listed.consultations]:
        raise SystemExit("ListConsultations does not list the draft")
    print(f"  GetConsultation: open widening, affected 0/0, others support {o.support} object {o.object}; "
          f"widens: {', '.join(widening)}")


# ---- vectors.py: the consultation sections of the test vectors ----
#
# The shapes read (keep in step with proto/tests/vectors/):
# - "consultations": entry vectors, as "entries" (replayed on their feeds): at least a Policy with
#   a consultation, a stance, a response and an outcome;
# - "consultation_states": [{"gated", "time_ms", "closes_ms", "superseded_ms", "outcomes": [{"id",
#   "time_ms", "approved", "frozen"}] (every valid outcome), "now_ms", "state", "state_ms",
#   "state_wire", "in_effect_from"}];
# - "consultation_decisions": {"cases": [scope_decisions' case shape, no policy scope, plus
#   "in_effect_from"]};
# - "consultation_counts": [{"stances": [{"feed", "seq", "kind" (STANCE_KIND_*), "reasons",
#   "affected" (decided at the stance: its feed held a grant naming the collector at a lower
#   seq)}], "affected"|"others": {"support", "object", "reasons": [{"reason", "count"}]},
#   "threshold", "raised": [names]}];
# - "policy_changes": [{"old", "new" (Policy fields), "kind", "items": [{"direction", "code",
#   "sentence"}]}];
# - "consultation_validation": {"history": entries, "cases": [{"about", "widening_min_days",
#   "entries", "verdicts": ["accept" | "pending" | a rejection code]}]}.


def varint(n):
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def check_vectors(v, c, replay, entry_pb2):
    entries = v["consultations"]
    for e in entries:
        replay(e)
    kinds = {next(iter(e["body"])): e for e in entries}
    for kind in ("policy", "stance", "response", "outcome"):
        c.true(kind in kinds, f"consultations: a {kind} entry")
    drafts = [e for e in entries if "policy" in e["body"] and e["body"]["policy"].get("consultation")]
    c.true(drafts, "consultations: a policy with a consultation")
    for e in drafts:
        closes = e["body"]["policy"]["consultation"]["closes_ms"]
        field = b"\x08" + varint(closes)
        c.true(bytes.fromhex(e["payload"]).endswith(b"\x62" + varint(len(field)) + field),
               f"{e['name']}: the consultation is field 12 (62 <len> 08 <closes_ms>)")
    ids = {e["id"] for e in drafts}
    for kind, key in (("stance", "9a01"), ("response", "a201"), ("outcome", "aa01")):
        e = kinds[kind]
        body = e["body"][kind]
        encoded = message_from_fields(entry_pb2, kind, body).SerializeToString()
        c.true(e["payload"].endswith(key + varint(len(encoded)).hex() + encoded.hex()),
               f"{e['name']}: the {kind} is its field ({key} <len>)")
        c.true(body["draft"] in ids, f"{e['name']}: names a draft of the vectors")

    for i, item in enumerate(v["consultation_states"]):
        # The vector states the facts at its top level, with every valid outcome (and whether its
        # registrar is frozen).
        c.eq(state(item, item["now_ms"]), (item["state"], item["state_ms"]), f"consultation state {i}")
        c.eq(in_effect_from(item), item["in_effect_from"], f"consultation {i}: in effect from")
    names = {item["state"] for item in v["consultation_states"]}
    c.eq(names, {"open", "awaiting-outcome", "approved", "changes-required", "withdrawn"}, "every state")

    for i, item in enumerate(v["consultation_counts"]):
        stances = [{**s, "support": s["kind"] == "STANCE_KIND_SUPPORT"} for s in item["stances"]]
        got = count(stances)
        for group in ("affected", "others"):
            w = item[group]
            c.eq((got[group]["support"], got[group]["object"]), (w["support"], w["object"]),
                 f"consultation counts {i}: {group}")
            c.eq(got[group]["reasons"], {reason_name(r["reason"]): r["count"] for r in w["reasons"] if r["count"]},
                 f"consultation counts {i}: {group} reasons")
        c.eq(raised(got, item["threshold"]), [reason_name(r) for r in item["raised"]],
             f"consultation counts {i}: reasons raised at {item['threshold']}")

    for i, item in enumerate(v["policy_changes"]):
        # Directions and codes in order, from the table; sentences are informative.
        c.eq(compare(item["old"]["policy"], item["new"]["policy"]),
             [(x["direction"], x["code"]) for x in item["items"]], f"policy change {i}: its items")
        directions = {x["direction"] for x in item["items"]}
        kind = "widening" if "widens" in directions else "narrowing" if "narrows" in directions else "unchanged"
        c.eq(item["kind"], kind, f"policy change {i}: its kind follows its items")
        for side in ("old", "new"):
            # The .proto's fields, stated as a body ({"policy": fields}); its encoding matches.
            policy = message_from_fields(entry_pb2, "policy", item[side]["policy"])
            c.eq(policy.SerializeToString().hex(), item[side + "_encoding"],
                 f"policy change {i}: the {side} version's encoding")
    c.true({x["kind"] for x in v["policy_changes"]} >= {"widening", "narrowing"}, "policy changes both ways")

    codes = {verdict for case in v["consultation_validation"]["cases"] for verdict in case["verdicts"]}
    want = {"widening-without-consultation", "consultation-too-short", "consultation-too-long", "id-redefined",
            "not-a-consultation", "outside-consultation-window", "not-own-consultation", "outcome-too-early",
            "response-not-for-draft"}
    c.eq(want - codes, set(), "consultation validation: every consultation rejection reason")
    # Every verdict is a name the spec gives: accept, pending, or a rejection reason's name.
    known = want | {"accept", "pending", "body-not-allowed", "bad-field", "time-before-prev",
                    "policy-version-not-increasing"}
    c.eq(codes - known, set(), "consultation validation: verdict names")
    for case in v["consultation_validation"]["cases"]:
        c.eq(len(case["entries"]), len(case["verdicts"]), f"{case['about']}: one verdict per entry")
        c.true(case["widening_min_days"] is None or 1 <= case["widening_min_days"] <= 365,
               f"{case['about']}: widening_min_days 1..=365")

    # POLICY_NOT_IN_EFFECT: `at` alone against in_effect_from, after REVOKED, NOT_YET_VALID and
    # EXPIRED, before the observation's time (an unscoped grant, so step 6 is its validity only).
    for i, item in enumerate(v.get("consultation_decisions", {}).get("cases", [])):
        g, q = item["grant"], item["question"]
        at, until = q["at_ms"], g["valid_until"]
        observed = (q["context"] or {}).get("observed_ms") or None
        if g["revoked"]:
            want_reason = "REVOKED"
        elif at < g["valid_from"]:
            want_reason = "NOT_YET_VALID"
        elif until and at >= until:
            want_reason = "EXPIRED"
        elif at < item["in_effect_from"]:
            want_reason = "POLICY_NOT_IN_EFFECT"
        elif observed is not None and not (g["valid_from"] <= observed and (not until or observed < until)):
            want_reason = "TIME_NOT_COVERED"
        else:
            want_reason = None
        c.eq(item["reason"].removeprefix("REASON_") if want_reason else item["decision"],
             want_reason or "DECISION_ALLOW", f"consultation decision {i}: {item.get('about')}")


# ---- What widens (spec, "Consultations": the table and the order of the items) ----


def h3_parent(cell, p):
    """The parent of an H3 cell (an int) at resolution p, or None if p is finer than the cell."""
    if p > (cell >> 52) & 0xF:
        return None
    cell = (cell & ~(0xF << 52)) | (p << 52)
    for i in range(p + 1, 16):
        cell |= 7 << (3 * (15 - i))
    return cell


def zone_holds(z, cell):
    return h3_parent(cell, z["resolution"]) in {int(x, 16) for x in z["cells"]}


def uncovered(zone, zones):
    return any(not any(zone_holds(z, int(c, 16)) for z in zones) for c in zone["cells"])


def week(scope):
    """The UTC minutes of the week a scope's windows cover (every minute without windows)."""
    windows, u = scope.get("windows", []), scope.get("utc_offset_minutes", 0)
    if not windows:
        return set(range(10080))
    return {(1440 * d + m - u) % 10080 for w in windows for d in range(7) if w["days"] >> d & 1
            for m in range(w["start_minute"], w["end_minute"])}


RANK = {"FORM_RAW": 1, "FORM_PSEUDONYMISED": 2, "FORM_BINNED": 3, "FORM_AGGREGATED": 4}


def protective(a, b):
    """a ⪰ b."""
    if RANK[a["form"]] != RANK[b["form"]]:
        return RANK[a["form"]] > RANK[b["form"]]
    if a["form"] in ("FORM_BINNED", "FORM_AGGREGATED"):
        return (a.get("interval_s", 0) >= b.get("interval_s", 0) and a.get("resolution", 0) <= b.get("resolution", 0)
                and a.get("min_group", 0) >= b.get("min_group", 0))
    return True


def weaker(a, b):
    """Some offer of a has no offer of b it is at least as protective as (b empty: never)."""
    return bool(b) and (not a or any(not any(protective(x, y) for y in b) for x in a))


def purpose_number(name, _cache={}):
    """A Purpose's wire number, read from vocab.proto (`PURPOSE_RESEARCH = 5;`)."""
    if not _cache:
        import os
        import re
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../proto/consent/v1/vocab.proto")
        with open(path) as f:
            _cache.update((m[1], int(m[2])) for m in re.finditer(r"\b(PURPOSE_[A-Z_]+) = (\d+);", f.read()))
    return _cache[name]


def compare(old, new):
    """[(direction, code)] from policy `old` to `new` (.proto fields), in the spec's order."""
    out = []
    def d(w, n): return "widens" if w else "narrows" if n else "neutral"  # noqa: E704
    for code in ("purposes", "categories", "retention", "recipients"):
        if code == "retention":
            if old.get("retention_days") != new.get("retention_days"):
                out.append((d(new.get("retention_days", 0) > old.get("retention_days", 0), True), code))
            continue
        a, b = old.get(code, []), new.get(code, [])
        if [x for x in b if x not in a]:
            out.append(("widens", code))
        if [x for x in a if x not in b]:
            out.append(("narrows", code))
    for code, direction in (("name", "neutral"), ("jurisdiction", "widens"), ("contact", "neutral"),
                            ("document_url", "neutral"), ("document_digest", "widens")):
        if old.get(code, "") != new.get(code, ""):
            out.append((direction, "document" if code == "document_digest" else code))
    o, n = old.get("scope") or {}, new.get("scope") or {}
    oz, nz = o.get("zones", []), n.get("zones", [])
    if oz and not nz:
        out.append(("widens", "zones"))
    elif nz and not oz:
        out.append(("narrows", "zones"))
    elif oz and nz:
        for z in nz:
            x = next((x for x in oz if x["id"] == z["id"]), None)
            if x is None:
                out.append((d(uncovered(z, oz), False), "zones"))
            elif (x["cells"], x["resolution"]) != (z["cells"], z["resolution"]):
                out.append((d(uncovered(z, oz), uncovered(x, nz)), "zones"))
        out += [(d(False, uncovered(x, nz)), "zones") for x in oz if all(z["id"] != x["id"] for z in nz)]
    os_, ns = o.get("sensors", []), n.get("sensors", [])
    if os_ != ns:
        def adds(a, b): return bool(a) and (not b or any(s["id"] not in {x["id"] for x in a} for s in b))  # noqa: E704
        out.append((d(adds(os_, ns), adds(ns, os_)), "sensors"))
    if o.get("windows", []) != n.get("windows", []) or (
            n.get("windows") and o.get("utc_offset_minutes", 0) != n.get("utc_offset_minutes", 0)):
        ow, nw = week(o), week(n)
        out.append((d(bool(nw - ow), bool(ow - nw)), "windows"))
    wire = {}  # purpose name -> (old offers, new offers), by wire number below
    for side, scope in ((0, o), (1, n)):
        for f in scope.get("forms", []):
            wire.setdefault(f["purpose"], [[], []])[side] = f["offers"]
    for purpose in sorted(wire, key=purpose_number):
        before, after = wire[purpose]
        if before != after:
            kept = purpose in new.get("purposes", [])
            out.append((d(kept and weaker(after, before), weaker(before, after)), "forms"))
    return out


def message_from_fields(entry_pb2, kind, fields):
    from python_client import message_from_json

    cls = {"policy": entry_pb2.Policy, "stance": entry_pb2.Stance, "response": entry_pb2.ConsultationResponse,
           "outcome": entry_pb2.ConsultationOutcome}[kind]
    return message_from_json(cls, fields)


if __name__ == "__main__":
    # The spec's cases: every state, supersession before and after the outcome, fail closed.
    d = {"gated": True, "closes_ms": 100, "superseded_ms": None, "outcomes": []}
    assert state(d, 50) == ("open", 0) and state(d, 100) == ("awaiting-outcome", 0)
    assert in_effect_from(d) == NEVER and in_effect_from({**d, "gated": False}) == ALWAYS
    yes = {"id": "01", "time_ms": 120, "approved": True, "frozen": False}
    no = {"id": "02", "time_ms": 150, "approved": False, "frozen": False}
    approved = {**d, "outcomes": [yes]}
    assert state(approved, 0) == ("approved", 120) and in_effect_from(approved) == 120
    assert state({**approved, "superseded_ms": 110}, 0) == ("withdrawn", 110)
    assert state({**approved, "superseded_ms": 130}, 0) == ("approved", 120)
    refused = {**d, "outcomes": [yes, no]}
    assert state(refused, 0) == ("changes-required", 150) and in_effect_from(refused) == NEVER
    assert state({**d, "outcomes": [yes, {**no, "frozen": True}]}, 0) == ("approved", 120)
    assert state({**d, "outcomes": [{**yes, "frozen": True}]}, 200) == ("awaiting-outcome", 0)
    # Counting: the latest stance of a feed replaces its earlier one.
    counted = count([
        {"feed": "a", "seq": 1, "support": False, "reasons": ["retention-too-long"], "affected": True},
        {"feed": "a", "seq": 2, "support": True, "reasons": [], "affected": True},
        {"feed": "b", "seq": 1, "support": False, "reasons": ["OBJECTION_REASON_OTHER", 2], "affected": False},
    ])
    assert counted["affected"] == {"support": 1, "object": 0, "reasons": {}}
    assert counted["others"] == {"support": 0, "object": 1, "reasons": {"other": 1, "retention-too-long": 1}}
    assert raised(counted, 1) == ["retention-too-long", "other"] and raised(counted, 2) == []
    print("consultation.py: worked examples pass")
