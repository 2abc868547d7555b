//! `consent registrar decide`: a registrar's outcome of a consultation, relying on the
//! collector's responses to the objections raised.

use clap::Args;
use consent_proto::body::{Body, ConsultationOutcome};
use consent_proto::ids::EntryId;
use consent_proto::limits::MAX_OUTCOME_RESPONSES;
use consent_proto::vocab::ConsultationResult;
use serde_json::json;

use super::consult::consultation;
use crate::consult_words as words;
use crate::ctx::{Global, entry_arg};

/// `registrar decide`'s arguments.
#[derive(Args, Debug)]
pub struct DecideArgs {
    /// The policy version under consultation (ent1...).
    pub draft: String,
    /// Approve it: a draft takes effect from this outcome (only once the consultation has
    /// closed).
    #[arg(
        long,
        conflicts_with = "changes_required",
        required_unless_present = "changes_required"
    )]
    pub approve: bool,
    /// Require changes: a draft never takes effect; the collector publishes a new version.
    #[arg(long)]
    pub changes_required: bool,
    /// Why, for the public record (at most 280 bytes).
    #[arg(long)]
    pub text: String,
    /// A collector's response the outcome relies on (ent1..., repeat; default: every latest
    /// response to this consultation). On a network with an objection threshold, an approval
    /// lists a response to every reason raised by at least that many stances.
    #[arg(long = "response", value_name = "ID")]
    pub responses: Vec<String>,
}

pub async fn decide(a: DecideArgs, g: &Global) -> anyhow::Result<()> {
    let draft = entry_arg("<draft>", &a.draft)?;
    let mut responses = a
        .responses
        .iter()
        .map(|r| entry_arg("--response", r))
        .collect::<anyhow::Result<Vec<EntryId>>>()?;
    let mut node = g.connect().await?;
    let c = consultation(&mut node, &draft).await?;
    let s = c.summary.clone().unwrap_or_default();
    if responses.is_empty() {
        responses = c
            .responses
            .iter()
            .filter_map(|r| consent_proto::Entry::from_signed(r).ok())
            .map(|e| e.id)
            .collect();
    }
    if responses.len() > MAX_OUTCOME_RESPONSES {
        anyhow::bail!("an outcome lists at most {MAX_OUTCOME_RESPONSES} responses");
    }
    let result = if a.approve {
        ConsultationResult::Approved
    } else {
        ConsultationResult::ChangesRequired
    };
    let effect = match (result, s.widening) {
        (ConsultationResult::Approved, true) => "the draft takes effect now",
        (ConsultationResult::Approved, false) => "the version was already in effect",
        (_, true) => "the draft never takes effect; the collector publishes a new version",
        (_, false) => "the version stays in effect; the collector may publish a new one",
    };
    let body = Body::Outcome(ConsultationOutcome {
        draft,
        result,
        text: a.text.clone(),
        responses: responses.clone(),
    });
    let value = json!({
        "draft": draft.to_string(),
        "collector": words::collector_text(&s),
        "version": s.version,
        "result": result.name(),
        "responses": responses.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
    });
    let human = format!(
        "Decided the consultation on {} version {}: {} ({effect}), relying on {} responses",
        s.name,
        s.version,
        result.plain(),
        responses.len()
    );
    super::org::registrar_append(g, body, &human, value).await
}
