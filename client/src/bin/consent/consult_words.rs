//! Consultations in plain words and as JSON: states, time left, counts, what a version changes,
//! and the stance, response and outcome entries.

use consent_client::time;
use consent_proto::body::{ConsultationOutcome, ConsultationResponse, Position, Stance};
use consent_proto::ids::{Digest, EntryId, FeedId};
use consent_proto::pb;
use consent_proto::policy_change::{ChangeItem, Direction};
use consent_proto::vocab::{ObjectionReason, Role};
use serde_json::{Value, json};

/// The line every view of counts ends with.
pub const NOT_VOTES: &str =
    "Counts are signals to the registrar, not votes: one person can hold many feeds.";

/// A state's name, as in JSON and the transparency site.
pub fn state_name(state: pb::ConsultationState) -> &'static str {
    match state {
        pb::ConsultationState::Open => "open",
        pb::ConsultationState::AwaitingOutcome => "awaiting-outcome",
        pb::ConsultationState::Approved => "approved",
        pb::ConsultationState::ChangesRequired => "changes-required",
        pb::ConsultationState::Withdrawn => "withdrawn",
        pb::ConsultationState::Unspecified => "unknown",
    }
}

/// Time until `closes_ms`, in the largest whole unit: "in 13 days", "in 5 hours", "closed".
pub fn time_left(closes_ms: u64, now_ms: u64) -> String {
    let Some(left) = closes_ms.checked_sub(now_ms).filter(|l| *l > 0) else {
        return "closed".to_string();
    };
    let s = left.div_ceil(1_000);
    let (n, unit) = match s {
        0..120 => (s, "second"),
        120..7_200 => (s / 60, "minute"),
        7_200..172_800 => (s / 3_600, "hour"),
        _ => (s / 86_400, "day"),
    };
    format!("in {n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A summary's state in words, with its times.
pub fn state_text(s: &pb::ConsultationSummary, now_ms: u64) -> String {
    let at = time::format(s.state_ms);
    match s.state() {
        pb::ConsultationState::Open => format!(
            "open until {} (closes {})",
            time::format(s.closes_ms),
            time_left(s.closes_ms, now_ms)
        ),
        pb::ConsultationState::AwaitingOutcome => format!(
            "closed on {}; awaiting a registrar's outcome",
            time::format(s.closes_ms)
        ),
        pb::ConsultationState::Approved if s.widening => {
            format!("approved: in effect from {at}")
        }
        pb::ConsultationState::Approved => format!("approved on {at}"),
        pb::ConsultationState::ChangesRequired if s.widening => {
            format!("changes required ({at}): this version never takes effect")
        }
        pb::ConsultationState::ChangesRequired => format!("changes required ({at})"),
        pb::ConsultationState::Withdrawn => {
            format!("withdrawn on {at}: a newer version replaced it")
        }
        pb::ConsultationState::Unspecified => "in a state this release does not know".into(),
    }
}

/// What kind of consultation it is, in words.
pub fn kind_text(widening: bool) -> &'static str {
    if widening {
        "a draft: it widens what is collected, and takes effect only if a registrar approves it"
    } else {
        "a voluntary consultation: this version does not widen what is collected and is in effect"
    }
}

fn tally_text(t: Option<&pb::Tally>) -> String {
    let t = t.cloned().unwrap_or_default();
    let mut s = format!("support {}, object {}", t.support, t.object);
    let reasons: Vec<String> = t
        .reasons
        .iter()
        .filter(|r| r.count > 0)
        .map(|r| format!("{} {}", reason_name(r.reason), r.count))
        .collect();
    if !reasons.is_empty() {
        s += &format!(" ({})", reasons.join(", "));
    }
    s
}

fn reason_name(wire: i32) -> &'static str {
    ObjectionReason::from_wire(wire).map_or("unknown", |r| r.name())
}

/// Counts in two lines: people with a consent to the collector, and others.
pub fn counts_text(c: Option<&pb::ConsultationCounts>) -> [String; 2] {
    [
        format!(
            "people with a consent to this collector: {}",
            tally_text(c.and_then(|c| c.affected.as_ref()))
        ),
        format!("others: {}", tally_text(c.and_then(|c| c.others.as_ref()))),
    ]
}

fn tally_json(t: Option<&pb::Tally>) -> Value {
    let t = t.cloned().unwrap_or_default();
    let reasons: serde_json::Map<String, Value> = t
        .reasons
        .iter()
        .map(|r| (reason_name(r.reason).to_string(), json!(r.count)))
        .collect();
    json!({"support": t.support, "object": t.object, "reasons": reasons})
}

/// Counts as JSON: `{"affected": {support, object, reasons: {name: n}}, "others": …}`.
pub fn counts_json(c: Option<&pb::ConsultationCounts>) -> Value {
    json!({
        "affected": tally_json(c.and_then(|c| c.affected.as_ref())),
        "others": tally_json(c.and_then(|c| c.others.as_ref())),
    })
}

/// An entry id from the wire, as text (`?` when it is not 32 bytes).
pub fn id_text(bytes: &[u8]) -> String {
    EntryId::from_slice(bytes).map_or_else(|_| "?".into(), |id| id.to_string())
}

/// The collector's id in a summary, typed (`col1…`).
pub fn collector_text(s: &pb::ConsultationSummary) -> String {
    FeedId::from_slice(&s.collector)
        .map_or_else(|_| "?".into(), |f| f.typed(Role::Collector).to_string())
}

/// A summary as JSON.
pub fn summary_json(s: &pb::ConsultationSummary, now_ms: u64) -> Value {
    json!({
        "draft": id_text(&s.draft),
        "collector": collector_text(s),
        "name": s.name,
        "version": s.version,
        "widening": s.widening,
        "state": state_name(s.state()),
        "state_text": state_text(s, now_ms),
        "state_at": (s.state_ms > 0).then(|| time::format(s.state_ms)),
        "opened": time::format(s.opened_ms),
        "closes": time::format(s.closes_ms),
        "counts": counts_json(s.counts.as_ref()),
    })
}

fn prefix(wider: bool, narrower: bool) -> &'static str {
    match (wider, narrower) {
        (true, _) => "wider: ",
        (false, true) => "narrower: ",
        _ => "",
    }
}

/// A change the node compared, prefixed "wider: " / "narrower: " / "".
pub fn wire_change_text(item: &pb::ChangeItem) -> String {
    let d = item.direction();
    format!(
        "{}{}",
        prefix(
            d == pb::ChangeDirection::Widens,
            d == pb::ChangeDirection::Narrows
        ),
        item.sentence
    )
}

/// A change compared here, prefixed as [`wire_change_text`].
pub fn change_text(item: &ChangeItem) -> String {
    format!(
        "{}{}",
        prefix(
            item.direction == Direction::Widens,
            item.direction == Direction::Narrows
        ),
        item.sentence
    )
}

/// A change compared here, as JSON.
pub fn change_json(item: &ChangeItem) -> Value {
    json!({"direction": item.direction.name(), "code": item.code, "sentence": item.sentence})
}

/// A change the node compared, as JSON.
pub fn wire_change_json(item: &pb::ChangeItem) -> Value {
    let direction = match item.direction() {
        pb::ChangeDirection::Widens => "widens",
        pb::ChangeDirection::Narrows => "narrows",
        pb::ChangeDirection::Neutral => "neutral",
        pb::ChangeDirection::Unspecified => "unknown",
    };
    json!({"direction": direction, "code": item.code, "sentence": item.sentence})
}

fn digest_json(d: Option<&Digest>) -> Value {
    d.map_or(Value::Null, |d| json!(d.to_string()))
}

/// A stance entry's body as JSON.
pub fn stance_json(s: &Stance) -> Value {
    let (kind, reasons): (&str, Vec<&str>) = match &s.position {
        Position::Support => ("support", Vec::new()),
        Position::Object(set) => ("object", set.iter().map(|r| r.name()).collect()),
    };
    json!({
        "draft": s.draft.to_string(),
        "stance": kind,
        "reasons": reasons,
        "details_digest": digest_json(s.details_digest.as_ref()),
    })
}

/// A stance in words.
pub fn stance_text(s: &Stance) -> String {
    match &s.position {
        Position::Support => format!("supported the consultation {}", s.draft),
        Position::Object(set) => format!(
            "objected to the consultation {}: {}",
            s.draft,
            set.iter().map(|r| r.plain()).collect::<Vec<_>>().join("; ")
        ),
    }
}

/// A collector's response as JSON.
pub fn response_json(r: &ConsultationResponse) -> Value {
    json!({
        "draft": r.draft.to_string(),
        "reason": r.reason.name(),
        "text": r.text,
        "document_digest": digest_json(r.document_digest.as_ref()),
    })
}

/// A collector's response in words.
pub fn response_text(r: &ConsultationResponse) -> String {
    format!(
        "answered the objection \"{}\" on {}: {}{}",
        r.reason.plain(),
        r.draft,
        r.text,
        r.document_digest
            .map(|d| format!(" (document {d})"))
            .unwrap_or_default()
    )
}

/// A registrar's outcome as JSON.
pub fn outcome_json(o: &ConsultationOutcome) -> Value {
    json!({
        "draft": o.draft.to_string(),
        "result": o.result.name(),
        "text": o.text,
        "responses": o.responses.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
    })
}

/// A registrar's outcome in words.
pub fn outcome_text(o: &ConsultationOutcome) -> String {
    format!(
        "decided the consultation {}: {} ({}; {} responses relied on)",
        o.draft,
        o.result.name(),
        o.text,
        o.responses.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_is_said_in_the_largest_whole_unit() {
        let now = 1_000_000;
        assert_eq!(time_left(now, now), "closed");
        assert_eq!(time_left(now - 1, now), "closed");
        assert_eq!(time_left(now + 3_000, now), "in 3 seconds");
        assert_eq!(time_left(now + 1_000, now), "in 1 second");
        assert_eq!(time_left(now + 5 * 60_000, now), "in 5 minutes");
        assert_eq!(time_left(now + 5 * 3_600_000, now), "in 5 hours");
        assert_eq!(time_left(now + 13 * 86_400_000 + 5, now), "in 13 days");
    }

    #[test]
    fn counts_name_both_groups_and_the_reasons_raised() {
        let counts = pb::ConsultationCounts {
            affected: Some(pb::Tally {
                support: 1,
                object: 2,
                reasons: vec![pb::ReasonCount {
                    reason: ObjectionReason::RetentionTooLong as i32,
                    count: 2,
                }],
            }),
            others: None,
        };
        let [affected, others] = counts_text(Some(&counts));
        assert_eq!(
            affected,
            "people with a consent to this collector: support 1, object 2 (retention-too-long 2)"
        );
        assert_eq!(others, "others: support 0, object 0");
        let j = counts_json(Some(&counts));
        assert_eq!(j["affected"]["reasons"]["retention-too-long"], 2);
        assert_eq!(j["others"]["object"], 0);
    }
}
