//! `consent consult list | show | support | object`: public consultations on collectors' policy
//! versions, read by anyone; stances signed by a citizen's wallet (`stance.rs`).

use std::collections::HashSet;

use anyhow::Context as _;
use clap::Subcommand;
use consent_client::keystore::Keystore;
use consent_client::node::NodeConnection;
use consent_client::{time, wallet};
use consent_proto::Entry;
use consent_proto::body::{Body, Policy};
use consent_proto::ids::{EntryId, FeedId, TypedFeedId};
use consent_proto::pb;
use consent_proto::vocab::Role;
use serde_json::json;

use super::stance;
use crate::consult_words as words;
use crate::ctx::{self, Global, emit, entry_arg};
use crate::describe;

/// `consent consult ...`
#[derive(Subcommand, Debug)]
pub enum Consult {
    /// Open consultations (every one with --all): those on collectors your wallet consents to
    /// first, with the time left and the stances so far.
    List {
        /// Also the closed ones (awaiting an outcome, approved, changes required, withdrawn).
        #[arg(long)]
        all: bool,
    },
    /// One consultation: what the version changes, its state and time left, the stances per
    /// group and reason, the collector's responses and the registrar's outcome.
    Show {
        /// The policy version under consultation (ent1...).
        draft: String,
    },
    /// Support a policy version under consultation, with your pairwise feed for its collector.
    Support(stance::SupportArgs),
    /// Object to a policy version under consultation, for one or more reasons.
    Object(stance::ObjectArgs),
}

pub async fn run(cmd: Consult, g: &Global) -> anyhow::Result<()> {
    match cmd {
        Consult::List { all } => list(all, g).await,
        Consult::Show { draft } => show(&draft, g).await,
        Consult::Support(a) => stance::support(a, g).await,
        Consult::Object(a) => stance::object(a, g).await,
    }
}

/// The collectors this wallet has ever granted to (revoked or not): the node counts its stances
/// among "people with a consent to this collector" for them. Empty without a citizen keystore.
async fn my_collectors(g: &Global, node: &mut NodeConnection) -> anyhow::Result<HashSet<FeedId>> {
    let path = g.keystore_path();
    if !path.exists() {
        return Ok(HashSet::new());
    }
    let passphrase = ctx::passphrase(&format!("Passphrase for {}: ", path.display()), false)?;
    let ks = Keystore::open(&path, &passphrase)?;
    if ks.role() != Role::Citizen {
        return Ok(HashSet::new());
    }
    let mut out = HashSet::new();
    for c in ks.state.pairwise.keys() {
        let collector = TypedFeedId::parse_role(c, Role::Collector)?;
        let subject = wallet::pairwise_feed(ks.master(), &collector);
        let granted = node
            .feed(&subject)
            .await?
            .iter()
            .any(|e| matches!(&e.body, Body::Grant(gr) if gr.collector == collector));
        if granted {
            out.insert(collector);
        }
    }
    Ok(out)
}

async fn list(all: bool, g: &Global) -> anyhow::Result<()> {
    let mut node = g.connect().await?;
    let mut found = node.all_consultations(None, !all).await?;
    let mine = my_collectors(g, &mut node).await?;
    let affects = |s: &pb::ConsultationSummary| {
        FeedId::from_slice(&s.collector).is_ok_and(|c| mine.contains(&c))
    };
    // Those that affect the wallet's consent first; otherwise the node's order (closing first).
    found.sort_by_key(|s| !affects(s));
    let now = time::now_ms();
    if found.is_empty() && !g.json {
        ctx::out(if all {
            "No consultations."
        } else {
            "No open consultations (consent consult list --all shows the closed ones)."
        });
    }
    for s in &found {
        let mut value = words::summary_json(s, now);
        value["affects_you"] = json!(affects(s));
        let [affected, others] = words::counts_text(s.counts.as_ref());
        let human = format!(
            "{}  {} ({}), version {}: {}{}\n    {}\n    {affected}\n    {others}",
            words::id_text(&s.draft),
            s.name,
            words::collector_text(s),
            s.version,
            if s.widening {
                "widens what is collected"
            } else {
                "does not widen what is collected"
            },
            if affects(s) {
                "; affects your consent"
            } else {
                ""
            },
            words::state_text(s, now),
        );
        emit(g.json, human, value);
    }
    Ok(())
}

/// The entries of a `GetConsultation` answer that decode (the node's; a bad one is left out).
fn decoded(signed: &[pb::SignedEntry]) -> Vec<Entry> {
    signed
        .iter()
        .filter_map(|s| Entry::from_signed(s).ok())
        .collect()
}

async fn show(draft: &str, g: &Global) -> anyhow::Result<()> {
    let id = entry_arg("<draft>", draft)?;
    let mut node = g.connect().await?;
    let c = consultation(&mut node, &id).await?;
    let s = c.summary.clone().unwrap_or_default();
    let now = time::now_ms();
    let responses = decoded(&c.responses);
    let outcomes = decoded(&c.outcomes);
    let mut human = format!(
        "Consultation on {} ({}), policy version {}: {}\n  state: {}\n",
        s.name,
        words::collector_text(&s),
        s.version,
        words::kind_text(s.widening),
        words::state_text(&s, now)
    );
    if c.compared.is_empty() {
        human += "  the collector's first policy: nothing to compare with\n";
    }
    for cmp in &c.compared {
        human += &format!(
            "  what changes from version {} ({}):\n",
            cmp.version,
            words::id_text(&cmp.policy)
        );
        for item in &cmp.items {
            human += &format!("    {}\n", words::wire_change_text(item));
        }
    }
    let [affected, others] = words::counts_text(s.counts.as_ref());
    human += &format!("  stances so far:\n    {affected}\n    {others}\n");
    if responses.is_empty() {
        human += "  the collector has not responded\n";
    } else {
        human += "  the collector's responses (the latest per reason):\n";
        for e in &responses {
            human += &format!("    {}  {}\n", e.id, describe::entry_text(e));
        }
    }
    for e in &outcomes {
        human += &format!(
            "  outcome by {}: {}\n",
            e.feed.typed(Role::Registrar),
            describe::entry_text(e)
        );
    }
    human += words::NOT_VOTES;
    let mut value = words::summary_json(&s, now);
    value["compared"] = json!(
        c.compared
            .iter()
            .map(|cmp| json!({
                "policy": words::id_text(&cmp.policy),
                "version": cmp.version,
                "changes": cmp.items.iter().map(words::wire_change_json).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    );
    value["responses"] = json!(
        responses
            .iter()
            .map(|e| describe::entry_json(e, Role::Collector))
            .collect::<Vec<_>>()
    );
    value["outcomes"] = json!(
        outcomes
            .iter()
            .map(|e| describe::entry_json(e, Role::Registrar))
            .collect::<Vec<_>>()
    );
    value["log_size"] = json!(c.log_size);
    emit(g.json, human, value);
    Ok(())
}

/// The consultation on `draft`, or an error saying there is none.
pub async fn consultation(
    node: &mut NodeConnection,
    draft: &EntryId,
) -> anyhow::Result<pb::Consultation> {
    let url = node.url().to_string();
    node.get_consultation(draft).await?.with_context(|| {
        format!(
            "no consultation {draft}: the node at {url} holds no policy version with a \
             consultation under that id (consent consult list --all lists them)"
        )
    })
}

/// The collector's newest version when it is newer than `in_effect` and put to consultation (a
/// draft not in effect yet, or refused), with its consultation's summary.
pub async fn pending_version(
    node: &mut NodeConnection,
    collector: &FeedId,
    in_effect: &EntryId,
) -> anyhow::Result<Option<(EntryId, Policy, pb::ConsultationSummary)>> {
    let Some((id, policy)) = node.newest_policy(collector).await? else {
        return Ok(None);
    };
    if id == *in_effect || policy.consultation.is_none() {
        return Ok(None);
    }
    let summary = node.get_consultation(&id).await?.and_then(|c| c.summary);
    Ok(summary.map(|s| (id, policy, s)))
}

/// The line `consent policy` adds about a pending version.
pub fn pending_line(id: &EntryId, policy: &Policy, s: &pb::ConsultationSummary) -> String {
    let now = time::now_ms();
    match s.state() {
        pb::ConsultationState::Open => format!(
            "Version {} is under public consultation until {}, {} (consent consult show {id}).",
            policy.version,
            time::format(s.closes_ms),
            words::time_left(s.closes_ms, now)
        ),
        _ => format!(
            "Version {} was put to public consultation: {} (consent consult show {id}).",
            policy.version,
            words::state_text(s, now)
        ),
    }
}

/// `e` (a grant outside the policy in effect), and when the collector's newer version is a
/// draft, that it is not in effect.
pub async fn with_draft_note(
    node: &mut NodeConnection,
    collector: &FeedId,
    in_effect: &EntryId,
    e: anyhow::Error,
) -> anyhow::Error {
    match pending_version(node, collector, in_effect).await {
        Ok(Some((id, policy, s))) if s.widening => anyhow::anyhow!(
            "{e:#}; version {} ({id}) is a draft under consultation ({}): it is not in effect \
             unless a registrar approves it (consent consult show {id})",
            policy.version,
            words::state_text(&s, time::now_ms())
        ),
        _ => e,
    }
}
