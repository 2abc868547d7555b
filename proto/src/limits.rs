//! Every size and time limit of the protocol and the public API. Inputs beyond them are rejected.

/// Largest encoded `SignedEntry` (payload + signature + framing), in bytes.
pub const MAX_ENTRY_BYTES: usize = 8 * 1024;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Entries in one `SubmitBatch`.
pub const MAX_SUBMIT_BATCH: usize = 1_000;
/// Checks in one `CheckBatch`.
pub const MAX_CHECK_BATCH: usize = 1_000;
/// Most receipts signed as one group ([`crate::receipt::group`]): a path is then at most 16
/// hashes.
pub const MAX_RECEIPT_GROUP: u64 = 65_536;
/// Entries in one `GetFeed` stream.
pub const MAX_FEED_STREAM: u32 = 10_000;
/// Equivocations of one feed that `Ledger.GetEquivocation` lists (by seq). A feed is frozen at its
/// first equivocation and takes no entry after it, so a node keeps one in practice.
pub const MAX_EQUIVOCATIONS_LISTED: usize = 64;
/// Largest gRPC message a node decodes or sends, in bytes.
pub const MAX_GRPC_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// How far an entry's time may be ahead of the node's clock.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;
/// Entries before this time (2020-01-01T00:00:00Z) are rejected as absurd.
pub const MIN_TIME_MS: u64 = 1_577_836_800_000;
/// Purposes or categories in one policy or grant.
pub const MAX_VOCAB_ITEMS: usize = 16;
/// Recipients listed in one policy.
pub const MAX_RECIPIENTS: usize = 16;
/// Longest retention, in days (100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;
/// Longest policy name, recipient name (bytes of UTF-8).
pub const MAX_NAME_BYTES: usize = 120;
/// Longest jurisdiction string.
pub const MAX_JURISDICTION_BYTES: usize = 64;
/// Longest policy document URL.
pub const MAX_URL_BYTES: usize = 512;
/// Longest contact string.
pub const MAX_CONTACT_BYTES: usize = 200;
/// Longest suspension or refusal reason.
pub const MAX_REASON_BYTES: usize = 280;
/// Grants of one subject naming one collector that the decision rule reads: the newest (highest
/// seq) this many, counted over all grants naming the collector, revoked, expired, not yet valid
/// or not covering the question alike; older ones are ignored (see [`crate::decide`]). Ignoring a
/// grant can only turn an allow into a deny, so a feed past this number fails closed and hurts
/// only its own checks. Entries are not refused for it: it bounds the work of one check, not what
/// a feed may hold. Nodes of releases before this bound read every grant: while a network
/// upgrades, quorum reads about such a feed may answer that the nodes disagree (a deny).
pub const GRANTS_CONSIDERED: usize = 1_024;
/// A check whose `at_ms` is within this of the node's clock is about the present
/// ([`crate::pb::QuestionTime::Current`]); further before or after, it is a past or future question,
/// and its decision receipt says so (see [`crate::decide::question_time`]).
pub const QUESTION_TIME_TOLERANCE_MS: u64 = MAX_CLOCK_SKEW_MS;
/// Zones one policy declares; also zone ids one grant names.
pub const MAX_ZONES: usize = 16;
/// H3 cells of one zone (a 500 m street at resolution 11 is about 40 cells, a park at 10 about 50).
pub const MAX_CELLS_PER_ZONE: usize = 256;
/// H3 cells of one policy, all zones together: 4,096 bytes of cells. A policy at every scope limit
/// with short texts is about 6,700 bytes, within [`MAX_ENTRY_BYTES`]; with its text fields at
/// their limits too it is about 9,500 bytes and refused `too-large` (512 cells of resolution 11
/// cover about 1.1 km², of resolution 9 about 54 km²).
pub const MAX_CELLS_PER_POLICY: usize = 512;
/// Longest zone name, bytes of UTF-8.
pub const MAX_ZONE_NAME_BYTES: usize = 64;
/// Sensors one policy declares; also sensor ids one grant names.
pub const MAX_SENSORS: usize = 64;
/// Sensor kinds one grant names.
pub const MAX_SENSOR_KINDS: usize = 16;
/// Time windows of one policy, or of one grant.
pub const MAX_WINDOWS: usize = 8;
/// Purposes with forms in one policy scope, or with a floor in one grant scope.
pub const MAX_FORM_PURPOSES: usize = 16;
/// Form offers for one purpose (one per form).
pub const MAX_FORM_OFFERS: usize = 4;
/// The westernmost fixed UTC offset a policy may state, minutes (UTC−12:00).
pub const MIN_UTC_OFFSET_MINUTES: i32 = -720;
/// The easternmost fixed UTC offset a policy may state, minutes (UTC+14:00).
pub const MAX_UTC_OFFSET_MINUTES: i32 = 840;
/// UTC offsets are multiples of this many minutes.
pub const UTC_OFFSET_STEP_MINUTES: i32 = 15;
/// Shortest time bin of a binned or aggregated form, seconds.
pub const MIN_INTERVAL_S: u32 = 60;
/// Longest time bin, seconds (a day); a bin must also divide it, so bins align to local midnight.
pub const MAX_INTERVAL_S: u32 = 86_400;
/// Smallest k (distinct subjects per released group) of an aggregated form.
pub const MIN_GROUP: u32 = 2;
/// Largest k of an aggregated form.
pub const MAX_GROUP: u32 = 1_000;
/// One day, ms (consultation windows are set in days).
pub const DAY_MS: u64 = 86_400_000;
/// Longest consultation window, days after the policy entry's time (`consultation-too-long`).
pub const MAX_CONSULTATION_DAYS: u64 = 365;
/// Responses one consultation outcome lists (one per objection reason).
pub const MAX_OUTCOME_RESPONSES: usize = 6;
/// Collectors one delegation lists (none: any collector).
pub const MAX_DELEGATION_COLLECTORS: usize = 16;
/// Purposes one delegation lists (none: any purpose): every purpose there is.
pub const MAX_DELEGATION_PURPOSES: usize = MAX_VOCAB_ITEMS;
/// Delegations one `Ledger.ListDelegations` answer lists (oldest first).
pub const MAX_DELEGATIONS_LISTED: usize = 256;
/// Guardian delegations of one feed: at seq 1 and 2 (`guardian-misplaced`).
pub const MAX_GUARDIANS: u64 = 2;
/// How far before the node's clock an entry signed in someone's name, an undelegation or an
/// endorsement may be signed and still be taken at submission (`delegated-entry-too-old`); an
/// undelegation's default `void_from_ms` is its time minus this (crate docs, "Delegation").
pub const DELEGATED_ENTRY_TOLERANCE_MS: u64 = MAX_CLOCK_SKEW_MS;
