//! A collector's side of consultations: `collector policy draft` (a new version put to public
//! consultation), `collector respond` (an answer to one objection reason), and the check that
//! keeps `collector policy update` from publishing a widening without one.

use std::path::{Path, PathBuf};

use anyhow::bail;
use consent_client::node::NodeConnection;
use consent_client::{policy_file, time};
use consent_proto::body::{Body, Consultation, ConsultationResponse, Policy};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::limits::{DAY_MS, MAX_CONSULTATION_DAYS, MAX_ENTRY_BYTES};
use consent_proto::policy_change::{Change, compare};
use consent_proto::vocab::{ObjectionReason, Role};
use serde_json::json;

use super::consult::consultation;
use super::stance::digest_of;
use crate::consult_words as words;
use crate::ctx::{self, Global, emit, entry_arg};

/// A consultation's length when neither the command nor the network says.
const DEFAULT_DAYS: u32 = 14;

/// What validity compares a new version with: the collector's last version that is no draft
/// (the *base*) and its previous version, when different (crate docs, "Consultations").
async fn earlier_versions(
    node: &mut NodeConnection,
    me: &FeedId,
) -> anyhow::Result<Vec<(EntryId, Policy)>> {
    let mut versions: Vec<(EntryId, Policy)> = node
        .feed(me)
        .await?
        .into_iter()
        .filter_map(|e| match e.body {
            Body::Policy(p) => Some((e.id, p)),
            _ => None,
        })
        .collect();
    let Some(prev) = versions.pop() else {
        return Ok(Vec::new());
    };
    let mut base = None;
    for (id, p) in std::iter::once(&prev).chain(versions.iter().rev()) {
        let draft = match p.consultation {
            None => false,
            Some(_) => node
                .get_consultation(id)
                .await?
                .and_then(|c| c.summary)
                .is_none_or(|s| s.widening),
        };
        if !draft {
            base = Some((*id, p.clone()));
            break;
        }
    }
    Ok(match base {
        Some(b) if b.0 != prev.0 => vec![b, prev],
        _ => vec![prev],
    })
}

/// Each earlier version with what `new` changes from it.
fn changes(earlier: &[(EntryId, Policy)], new: &Policy) -> Vec<(EntryId, u32, Change)> {
    earlier
        .iter()
        .map(|(id, old)| (*id, old.version, compare(old, new)))
        .collect()
}

fn changes_text(changes: &[(EntryId, u32, Change)]) -> String {
    let mut s = String::new();
    for (id, version, change) in changes {
        s += &format!("What changes from version {version} ({id}):\n");
        for item in &change.items {
            s += &format!("  {}\n", words::change_text(item));
        }
        if change.items.is_empty() {
            s += &format!("  {}\n", consent_proto::policy_change::NO_CHANGE);
        }
    }
    s
}

fn changes_json(changes: &[(EntryId, u32, Change)]) -> serde_json::Value {
    json!(
        changes
            .iter()
            .map(|(id, version, change)| json!({
                "policy": id.to_string(),
                "version": version,
                "changes": change.items.iter().map(words::change_json).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    )
}

/// `collector policy update` on a network that requires consultations: refuses a version that
/// widens what is collected, naming the widening changes and the command to use instead.
pub async fn refuse_unconsulted_widening(
    node: &mut NodeConnection,
    me: &FeedId,
    body: &Body,
    file: &Path,
) -> anyhow::Result<()> {
    let Body::Policy(new) = body else {
        return Ok(());
    };
    let Some(rules) = node.status().await?.consultation else {
        return Ok(());
    };
    let earlier = earlier_versions(node, me).await?;
    let widening: Vec<String> = changes(&earlier, new)
        .iter()
        .flat_map(|(_, _, c)| c.widening_items().map(|i| i.sentence.clone()))
        .collect();
    if widening.is_empty() {
        return Ok(());
    }
    bail!(
        "this version widens what is collected ({}): publish it as a draft: consent collector \
         policy draft --policy {} --days {}",
        widening.join("; "),
        file.display(),
        rules.widening_min_days
    )
}

/// `collector policy draft`.
pub async fn draft(
    file: &Path,
    days: Option<u32>,
    closes: Option<&str>,
    g: &Global,
) -> anyhow::Result<()> {
    let mut ks = g.open(Role::Collector)?;
    let mut node = g.connect().await?;
    let mut author = ctx::own(&mut node, &mut ks).await?;
    let me = author.feed();
    let rules = node.status().await?.consultation;
    let min_days = rules.map(|r| r.widening_min_days);
    let earlier = earlier_versions(&mut node, &me).await?;
    let version = node.newest_policy(&me).await?.map_or(0, |(_, p)| p.version) + 1;
    let mut body = policy_file::load(file, version)?;
    let now = time::now_ms();
    let closes_ms = match closes {
        Some(t) => time::parse(t).map_err(|e| anyhow::anyhow!("--closes: {e}"))?,
        None => {
            let days = days.or(min_days).unwrap_or(DEFAULT_DAYS);
            now.saturating_add(u64::from(days) * DAY_MS)
        }
    };
    if closes_ms <= now {
        bail!("--closes: the consultation must close in the future");
    }
    if closes_ms - now > MAX_CONSULTATION_DAYS * DAY_MS {
        bail!("a consultation lasts at most {MAX_CONSULTATION_DAYS} days");
    }
    let Body::Policy(p) = &mut body else {
        bail!("the policy file gave no policy");
    };
    p.consultation = Some(Consultation { closes_ms });
    let changes = changes(&earlier, p);
    let widens = changes.iter().any(|(_, _, c)| c.widens());
    if let Some(min) = min_days
        && widens
        && closes_ms - now < u64::from(min) * DAY_MS
    {
        bail!(
            "this version widens what is collected: on this network its consultation lasts at \
             least {min} days (--days {min}, or leave --days out)"
        );
    }
    let size = policy_file::entry_size(&body);
    let entry = author.append(now, body).map_err(anyhow::Error::msg)?;
    ctx::submit(&mut node, &entry, "policy draft").await?;
    ks.save()?;
    let kind = if widens {
        "It widens what is collected: it is a draft, in effect only if a registrar approves it \
         after the consultation closes. Until then citizens grant under the version in effect."
    } else {
        "It does not widen what is collected: it is in effect now, and its consultation is \
         voluntary."
    };
    emit(
        g.json,
        format!(
            "{}Policy version {version} published under public consultation until {} ({}): {} \
             ({size} of at most {MAX_ENTRY_BYTES} bytes)\n{kind}\nCitizens: consent consult show {}",
            changes_text(&changes),
            time::format(closes_ms),
            words::time_left(closes_ms, now),
            entry.id,
            entry.id
        ),
        json!({
            "policy": entry.id.to_string(),
            "version": version,
            "draft": widens,
            "closes": time::format(closes_ms),
            "compared": changes_json(&changes),
            "entry_bytes": size,
        }),
    );
    Ok(())
}

/// `collector respond`'s arguments.
#[derive(clap::Args, Debug)]
pub struct RespondArgs {
    /// The policy version under consultation (ent1...), one of this collector's.
    pub draft: String,
    /// The objection reason answered, e.g. retention-too-long.
    #[arg(long)]
    pub reason: String,
    /// The public answer (at most 280 bytes), about the organisation's processing.
    #[arg(long)]
    pub text: String,
    /// A longer answer published elsewhere: only its BLAKE3 digest goes on the ledger.
    #[arg(long, value_name = "FILE")]
    pub document: Option<PathBuf>,
}

/// `collector respond`.
pub async fn respond(a: RespondArgs, g: &Global) -> anyhow::Result<()> {
    let draft = entry_arg("<draft>", &a.draft)?;
    let reason =
        ObjectionReason::from_name(&a.reason).map_err(|e| anyhow::anyhow!("--reason: {e}"))?;
    let document_digest = a.document.as_deref().map(digest_of).transpose()?;
    let mut ks = g.open(Role::Collector)?;
    let mut node = g.connect().await?;
    let mut author = ctx::own(&mut node, &mut ks).await?;
    let c = consultation(&mut node, &draft).await?;
    let s = c.summary.unwrap_or_default();
    if FeedId::from_slice(&s.collector).ok() != Some(author.feed()) {
        bail!(
            "{draft} is a consultation on {}'s policy: a collector answers only its own",
            words::collector_text(&s)
        );
    }
    let body = Body::Response(ConsultationResponse {
        draft,
        reason,
        text: a.text.clone(),
        document_digest,
    });
    let entry = author
        .append(time::now_ms(), body)
        .map_err(anyhow::Error::msg)?;
    ctx::submit(&mut node, &entry, "response").await?;
    ks.save()?;
    let counted = s
        .counts
        .iter()
        .flat_map(|c| c.affected.iter().chain(c.others.iter()))
        .flat_map(|t| t.reasons.iter())
        .filter(|r| r.reason == reason as i32)
        .map(|r| r.count)
        .sum::<u64>();
    emit(
        g.json,
        format!(
            "Answered the objection \"{}\" (raised by {counted} stances so far) on version {}. \
             Response id: {}{}",
            reason.plain(),
            s.version,
            entry.id,
            document_digest
                .map(|d| format!(
                    "\nPublish the document elsewhere; the ledger holds its digest: {d}"
                ))
                .unwrap_or_default()
        ),
        json!({
            "response": entry.id.to_string(),
            "draft": draft.to_string(),
            "reason": reason.name(),
            "document_digest": document_digest.map(|d| d.to_string()),
            "raised_by": counted,
        }),
    );
    Ok(())
}
