#!/usr/bin/env python3
"""Scope and form, written from the consent-proto crate docs alone (section "Scope and form", the
decision rule in `decide`'s module docs, and the `.proto` comments), not from the Rust code, so
that the test vectors and a node's answers are checked by a second implementation:

- H3 cell indexes by integer rules (`is_cell`, `resolution`, `parent`, the text form);
- local time at a fixed UTC offset (`local_time`) and weekly windows (`Window.contains`);
- the form ranks, a policy's scope and a grant's narrowing (`PolicyScope`, `GrantScope`, read
  from the test vectors' JSON, which is the `.proto` fields by name);
- the rule: `evaluate` (step 6's scope part), `required_form`, and `decide` (steps 5 and 6 over a
  subject's grants to one collector: which grant is named, with which reason);
- the context digest (`Context.digest`).

Enums are named as in the `.proto` files (`FORM_RAW`, `PURPOSE_RESEARCH`, `REASON_GRANTED`, ...).
No protobuf code here: callers turn wire messages into these types.

Where the text left a choice open, the choice made is marked "SPEC GAP" below.

Run alone (`python3 scope.py`), it checks the worked examples the specification states.
"""
import blake3

# ---- H3 cells ("H3 cells", integer operations only) ----

# The 12 pentagon base cells.
PENTAGONS = frozenset((4, 14, 24, 38, 49, 58, 63, 72, 83, 97, 107, 117))
BASE_CELLS = 122
MAX_RESOLUTION = 15


def resolution(index):
    """The 4-bit resolution field (bits 52..55)."""
    return (index >> 52) & 0xF


def base_cell(index):
    """The 7-bit base cell field (bits 45..51)."""
    return (index >> 45) & 0x7F


def digit(index, i):
    """Digit i (1..=15): 3 bits at 3*(15-i)."""
    return (index >> (3 * (15 - i))) & 7


def is_cell(index):
    """Whether a 64-bit value is an H3 cell: top byte 0x08 (reserved 0, mode 1, reserved 0), a
    base cell below 122, digits 1..=r in 0..=6, digits r+1..=15 all 7, and in a pentagon base cell
    a first non-zero digit other than 1 (the deleted subsequence)."""
    if not 0 <= index < 1 << 64 or index >> 56 != 0x08:
        return False
    r = resolution(index)
    if base_cell(index) >= BASE_CELLS:
        return False
    used = [digit(index, i) for i in range(1, r + 1)]
    unused = [digit(index, i) for i in range(r + 1, MAX_RESOLUTION + 1)]
    if any(d == 7 for d in used) or any(d != 7 for d in unused):
        return False
    if base_cell(index) in PENTAGONS:
        first = next((d for d in used if d != 0), 0)
        if first == 1:
            return False
    return True


def parent(cell, p):
    """The parent of a cell at resolution p <= its own: the resolution field set to p, digits
    p+1..=15 set to 7. None when p is finer than the cell."""
    if not 0 <= p <= resolution(cell):
        return None
    out = (cell & ~(0xF << 52)) | (p << 52)
    for i in range(p + 1, MAX_RESOLUTION + 1):
        out |= 7 << (3 * (15 - i))
    return out


def cell_text(cell):
    """H3's text form: lower-case hex without 0x (15 digits for a cell)."""
    return format(cell, "x")


# ---- Local time ("Local time", integers only) ----

MINUTE_MS = 60_000
DAY_MS = 86_400_000


def local_time(observed_ms, utc_offset_minutes):
    """(weekday, minute of the day) at a fixed offset; Monday is 0 (1970-01-01 was a Thursday).
    Python's // and % are the floor and mod the text names."""
    local = observed_ms + MINUTE_MS * utc_offset_minutes
    day = local // DAY_MS
    minute = (local - day * DAY_MS) // MINUTE_MS
    return (day + 3) % 7, minute


class Window:
    """A weekly window: `days` bit 0 Monday ... bit 6 Sunday, minutes [start, end) of local time."""

    def __init__(self, days, start_minute, end_minute):
        self.days, self.start_minute, self.end_minute = days, start_minute, end_minute

    @classmethod
    def from_json(cls, d):
        return cls(d["days"], d["start_minute"], d["end_minute"])

    def contains(self, weekday, minute):
        return (self.days >> weekday) & 1 == 1 and self.start_minute <= minute < self.end_minute

    def __repr__(self):
        return f"Window(days={self.days:#09b}, {self.start_minute}..{self.end_minute})"


# ---- Forms ("Forms and their rank") ----

# The rank is this table, not the wire number.
RANK = {"FORM_RAW": 1, "FORM_PSEUDONYMISED": 2, "FORM_BINNED": 3, "FORM_AGGREGATED": 4}
# Wire numbers (vocab.proto), for the context digest.
FORM_NUMBER = {"FORM_UNSPECIFIED": 0, "FORM_RAW": 1, "FORM_PSEUDONYMISED": 2, "FORM_BINNED": 3,
               "FORM_AGGREGATED": 4}
UNSPECIFIED = "FORM_UNSPECIFIED"
# Sensor kinds' wire numbers (vocab.proto), for the context digest.
SENSOR_KIND_NUMBER = {name: i for i, name in enumerate((
    "SENSOR_KIND_UNSPECIFIED", "SENSOR_KIND_CAMERA", "SENSOR_KIND_NUMBER_PLATE_READER",
    "SENSOR_KIND_AIR_QUALITY", "SENSOR_KIND_NOISE", "SENSOR_KIND_SMART_METER", "SENSOR_KIND_WATER_METER",
    "SENSOR_KIND_WIFI_COUNTER", "SENSOR_KIND_BLUETOOTH_COUNTER", "SENSOR_KIND_PEOPLE_COUNTER",
    "SENSOR_KIND_PARKING_BAY", "SENSOR_KIND_TRAFFIC_COUNTER", "SENSOR_KIND_WASTE_BIN",
    "SENSOR_KIND_TICKET_VALIDATOR", "SENSOR_KIND_EV_CHARGER"))}
NO_KIND = "SENSOR_KIND_UNSPECIFIED"


# ---- Scopes ----


class Zone:
    def __init__(self, id, name, resolution, cells):
        self.id, self.name, self.resolution, self.cells = id, name, resolution, list(cells)
        self._set = frozenset(self.cells)

    def contains(self, cell):
        """A cell at least as fine as the zone, whose parent at the zone's resolution is one of
        its cells (a coarser cell reaches outside the zone: never in it)."""
        return resolution(cell) >= self.resolution and parent(cell, self.resolution) in self._set


class PolicyScope:
    """What a policy declares. `PolicyScope()` is the empty scope a policy without one counts
    as (offset 0: UTC)."""

    def __init__(self, utc_offset_minutes=0, zones=(), sensors=(), windows=(), forms=()):
        self.utc_offset_minutes = utc_offset_minutes
        self.zones = list(zones)  # [Zone]
        self.sensors = dict(sensors)  # id -> (kind, zone id or 0)
        self.windows = list(windows)  # [Window]
        self.forms = {p: list(offers) for p, offers in forms}  # purpose -> [form name], by rank

    @classmethod
    def from_json(cls, d):
        """The test vectors' JSON of a `PolicyScope` (its `.proto` fields; cells in hex)."""
        if d is None:
            return None
        return cls(
            d["utc_offset_minutes"],
            [Zone(z["id"], z["name"], z["resolution"], [int(c, 16) for c in z["cells"]]) for z in d["zones"]],
            [(s["id"], (s["kind"], s["zone"])) for s in d["sensors"]],
            [Window.from_json(w) for w in d["windows"]],
            [(f["purpose"], [o["form"] for o in f["offers"]]) for f in d["forms"]],
        )

    def zone(self, id):
        return next((z for z in self.zones if z.id == id), None)

    def offers(self, purpose):
        return self.forms.get(purpose, [])


class GrantScope:
    """How a grant narrows its policy's scope."""

    def __init__(self, zones=(), sensors=(), sensor_kinds=(), windows=(), forms=()):
        self.zones, self.sensors, self.sensor_kinds = list(zones), list(sensors), list(sensor_kinds)
        self.windows = list(windows)
        self.forms = dict(forms)  # purpose -> floor (the least protective form accepted)

    @classmethod
    def from_json(cls, d):
        if d is None:
            return None
        return cls(d["zones"], d["sensors"], d["sensor_kinds"], [Window.from_json(w) for w in d["windows"]],
                   [(f["purpose"], f["form"]) for f in d["forms"]])

    def floor(self, purpose):
        return self.forms.get(purpose)


CONTEXT_DOMAIN = b"consent-ledger/context/v2"


class Context:
    """An observation context; each field's zero value (0, cell 0, SENSOR_KIND_UNSPECIFIED,
    FORM_UNSPECIFIED) is "not given". The sensor is named by its id and its kind (a node refuses
    a kind without an id, so this never holds one)."""

    def __init__(self, sensor=0, cell=0, observed_ms=0, form=UNSPECIFIED, sensor_kind=NO_KIND):
        self.sensor, self.cell, self.observed_ms, self.form = sensor, cell, observed_ms, form
        self.sensor_kind = sensor_kind

    @classmethod
    def from_json(cls, d):
        """The vectors' JSON (`cell` hex or null, `sensor_kind` and `form` by name); None for an
        absent context."""
        if d is None:
            return None
        return cls(d["sensor"], int(d["cell"], 16) if d["cell"] else 0, d["observed_ms"], d["form"],
                   d["sensor_kind"])

    def digest_input(self):
        """What the context digest hashes: the domain, sensor (4 bytes, big-endian), the sensor
        kind's wire number (1 byte), cell (8), observed_ms (8), both big-endian, and the form's
        wire number (1 byte)."""
        return (CONTEXT_DOMAIN + self.sensor.to_bytes(4, "big") + bytes([SENSOR_KIND_NUMBER[self.sensor_kind]])
                + self.cell.to_bytes(8, "big") + self.observed_ms.to_bytes(8, "big")
                + bytes([FORM_NUMBER[self.form]]))

    def digest(self):
        return blake3.blake3(self.digest_input()).digest()

    def __repr__(self):
        return (f"Context(sensor={self.sensor}, sensor_kind={self.sensor_kind}, cell={self.cell:x}, "
                f"observed_ms={self.observed_ms}, form={self.form})")


NO_CONTEXT = Context()


def evaluate(policy, grant, purpose, c):
    """The scope part of step 6 for a scoped grant: None if the observation lies in the effective
    scope, else the reason. `policy`: the policy's scope (None: an empty one); `grant`: the
    grant's narrowing (None: narrows nothing); `c`: the context (None: no context)."""
    p = policy or PolicyScope()
    g = grant
    c = c or NO_CONTEXT
    needs_sensor = bool(p.sensors)
    needs_cell = bool(p.zones)
    needs_time = bool(p.windows) or (g is not None and bool(g.windows))
    needs_form = bool(p.offers(purpose))
    # Missing context first, in this order. The sensor is its id and its kind: either missing is
    # the sensor missing.
    if needs_sensor and (not c.sensor or c.sensor_kind == NO_KIND):
        return "REASON_CONTEXT_MISSING_SENSOR"
    if needs_cell and not c.cell:
        return "REASON_CONTEXT_MISSING_CELL"
    if needs_time and not c.observed_ms:
        return "REASON_CONTEXT_MISSING_TIME"
    if needs_form and c.form == UNSPECIFIED:
        return "REASON_CONTEXT_MISSING_FORM"
    # Then coverage, in this order, each only when its dimension is needed.
    if needs_sensor:
        if c.sensor not in p.sensors:
            return "REASON_SENSOR_NOT_COVERED"
        kind = p.sensors[c.sensor][0]
        # Declared with the kind the context states, in the numbering of the grant's version (a
        # later version may give the id to another kind of sensor).
        if kind != c.sensor_kind:
            return "REASON_SENSOR_NOT_COVERED"
        if g is not None and (g.sensors or g.sensor_kinds):
            if c.sensor not in g.sensors and kind not in g.sensor_kinds:
                return "REASON_SENSOR_NOT_COVERED"
    if needs_cell:
        if g is not None and g.zones:
            # SPEC GAP: a narrowed zone id the policy does not declare cannot pass validation
            # (zone-not-in-policy); were it there, it would cover nothing.
            zones = [z for z in (p.zone(i) for i in g.zones) if z is not None]
        else:
            zones = p.zones
        if not any(z.contains(c.cell) for z in zones):
            return "REASON_ZONE_NOT_COVERED"
    if needs_time:
        weekday, minute = local_time(c.observed_ms, p.utc_offset_minutes)
        if p.windows and not any(w.contains(weekday, minute) for w in p.windows):
            return "REASON_TIME_NOT_COVERED"
        if g is not None and g.windows and not any(w.contains(weekday, minute) for w in g.windows):
            return "REASON_TIME_NOT_COVERED"
    if needs_form:
        if c.form not in p.offers(purpose):
            return "REASON_FORM_NOT_COVERED"
        floor = g.floor(purpose) if g is not None else None
        if floor is not None and RANK[c.form] < RANK[floor]:
            return "REASON_FORM_NOT_COVERED"
    return None


def required_form(policy, grant, purpose):
    """The grant's floor for the purpose if it sets one, else the least protective (lowest rank)
    form the policy offers for it, else FORM_UNSPECIFIED."""
    floor = grant.floor(purpose) if grant is not None else None
    if floor is not None:
        return floor
    offers = (policy or PolicyScope()).offers(purpose)
    return min(offers, key=RANK.__getitem__) if offers else UNSPECIFIED


# ---- The decision rule over one subject's grants to one collector (steps 5 and 6) ----

# An opt-out of sale/sharing later in the feed than a grant denies these purposes.
OPT_OUT_PURPOSES = frozenset(("PURPOSE_SELL_DATA", "PURPOSE_THIRD_PARTY_SHARING"))
# Only the subject's newest grants naming the collector are read (limits::GRANTS_CONSIDERED).
GRANTS_CONSIDERED = 1024


class Grant:
    """What the rule reads of one grant. `valid_until` 0: until revoked. `policy`: its policy's
    scope (None: the policy has none); `scope`: its own narrowing (None: narrows nothing)."""

    def __init__(self, seq, purposes, categories, valid_from, valid_until=0, revoked=False, policy=None,
                 scope=None, id=None):
        self.seq, self.purposes, self.categories = seq, frozenset(purposes), frozenset(categories)
        self.valid_from, self.valid_until, self.revoked = valid_from, valid_until, revoked
        self.policy, self.scope, self.id = policy, scope, id

    def scoped(self):
        """Unscoped: its policy has no scope and it narrows nothing."""
        return self.policy is not None or self.scope is not None

    def in_validity(self, t):
        return self.valid_from <= t and (self.valid_until == 0 or t < self.valid_until)


def failure(g, purpose, at_ms, c, opt_out_seq):
    """The first reason a grant covering purpose and category fails, or None: revoked, opted
    out, not yet valid, expired (at `at_ms`), then step 6."""
    if g.revoked:
        return "REASON_REVOKED"
    if opt_out_seq is not None and opt_out_seq > g.seq and purpose in OPT_OUT_PURPOSES:
        return "REASON_OPTED_OUT"
    if at_ms < g.valid_from:
        return "REASON_NOT_YET_VALID"
    if g.valid_until != 0 and at_ms >= g.valid_until:
        return "REASON_EXPIRED"
    # Step 6.1: a given observation time lies in the grant's validity, scoped or not.
    # SPEC GAP: the scope section writes `valid_from <= observed_ms < valid_until` without
    # restating that valid_until 0 means "until revoked" (entry.proto says so); read as here.
    if c is not None and c.observed_ms and not g.in_validity(c.observed_ms):
        return "REASON_TIME_NOT_COVERED"
    if g.scoped():
        return evaluate(g.policy, g.scope, purpose, c)
    return None


def decide(grants, purpose, category, at_ms, context=None, opt_out_seq=None):
    """(decision, reason, the grant named or None, required form) for a subject's grants naming
    one collector (the collector accredited, neither feed frozen: steps 1 to 4 passed)."""
    grants = sorted(grants, key=lambda g: g.seq)[-GRANTS_CONSIDERED:]
    if not grants:
        return "DECISION_DENY", "REASON_NO_GRANT", None, UNSPECIFIED
    covering = [g for g in grants if purpose in g.purposes and category in g.categories]
    allowing = [g for g in covering if failure(g, purpose, at_ms, context, opt_out_seq) is None]
    if allowing:
        named, decision, reason = allowing[-1], "DECISION_ALLOW", "REASON_GRANTED"
    elif covering:
        named = covering[-1]
        decision, reason = "DECISION_DENY", failure(named, purpose, at_ms, context, opt_out_seq)
    else:
        for_purpose = [g for g in grants if purpose in g.purposes]
        if for_purpose:
            named, decision, reason = for_purpose[-1], "DECISION_DENY", "REASON_CATEGORY_NOT_COVERED"
        else:
            named, decision, reason = grants[-1], "DECISION_DENY", "REASON_PURPOSE_NOT_COVERED"
    form = UNSPECIFIED
    if named.scoped() and purpose in named.purposes:
        form = required_form(named.policy, named.scope, purpose)
    return decision, reason, named, form


# ---- The specification's worked examples ----


def self_test():
    checks = [
        (parent(0x8A754E64992FFFF, 9), 0x89754E64993FFFF),
        (parent(0x8A754E64992FFFF, 0), 0x8075FFFFFFFFFFF),
        (parent(0x8A754E64992FFFF, 10), 0x8A754E64992FFFF),
        (parent(0x8A754E64992FFFF, 11), None),
        (is_cell(0x8A754E64992FFFF), True),
        (is_cell(0x89754E64993FFFF), True),
        (len(cell_text(0x8075FFFFFFFFFFF)), 15),
        (local_time(0, 0), (3, 0)),  # 1970-01-01 00:00 was a Thursday
        (local_time(0, -60), (2, 23 * 60)),  # Wednesday 23:00 at -01:00
        (local_time(DAY_MS * 4 - 1, 0), (6, 1439)),  # Sunday 23:59
        (Window(1, 0, 1440).contains(0, 1439), True),
        (Window(1, 420, 1140).contains(0, 1140), False),
        (Window(2, 420, 1140).contains(0, 600), False),
        (Context().digest_input(), CONTEXT_DOMAIN + bytes(22)),
        (len(SENSOR_KIND_NUMBER), 15),
        (SENSOR_KIND_NUMBER["SENSOR_KIND_EV_CHARGER"], 14),
        # A sensor id a later version gives to a camera: judged with the kind of the grant's.
        (evaluate(PolicyScope(sensors=[(3, ("SENSOR_KIND_AIR_QUALITY", 0))]), None, "PURPOSE_RESEARCH",
                  Context(3, sensor_kind="SENSOR_KIND_CAMERA")), "REASON_SENSOR_NOT_COVERED"),
        (evaluate(PolicyScope(sensors=[(3, ("SENSOR_KIND_AIR_QUALITY", 0))]), None, "PURPOSE_RESEARCH",
                  Context(3, sensor_kind="SENSOR_KIND_AIR_QUALITY")), None),
        (evaluate(PolicyScope(sensors=[(3, ("SENSOR_KIND_AIR_QUALITY", 0))]), None, "PURPOSE_RESEARCH",
                  Context(3)), "REASON_CONTEXT_MISSING_SENSOR"),
    ]
    for i, (got, want) in enumerate(checks):
        if got != want:
            raise SystemExit(f"scope.py self-test {i}: got {got!r}, want {want!r}")
    print(f"scope.py: {len(checks)} worked examples hold")


if __name__ == "__main__":
    self_test()
