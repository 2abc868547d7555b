//! `consent wallet privacy` (the wallet's setting: coarse times, a spread send, a node per feed)
//! and `consent wallet prepare` (feeds made ahead of use, at random moments), with what each
//! protects and what it costs (`consent_client::privacy`, docs/privacy.md).

use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::{Context as _, bail};
use clap::Args;
use consent_client::node::NodeConnection;
use consent_client::privacy::queue::{self, QueueLock};
use consent_client::privacy::{self, Settings};
use consent_client::time;
use consent_client::wallet;
use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::ids::FeedId;
use consent_proto::pb;
use consent_proto::vocab::Role;
use serde_json::json;

use crate::ctx::{Global, emit, feed_arg};
use crate::outbox::{Fate, Item, Outbox};

/// `consent wallet privacy`: with no option, shows the setting.
#[derive(Args, Debug)]
pub struct PrivacyArgs {
    /// Round the times you sign down to a multiple of this, so that the moment you acted is not
    /// published to the millisecond: a multiple of 2.5 minutes that divides a day (2m30s, 5m,
    /// 7m30s, 10m, 15m, 20m, 30m, 1h, 2h, ..., 1d; default 15m); `off`: exact times. A grant is
    /// then valid from the next multiple after it is sent (a collector checking at once is
    /// denied until then). A value few wallets use marks your entries: keep the default unless
    /// you need otherwise.
    #[arg(long, value_name = "DURATION|off")]
    pub coarse: Option<String>,
    /// Send what one command signs in each of your feeds at its own random moment within this
    /// (e.g. 30m; 1s to 1d), from a queue that survives the command; `off`: at once. A grant is
    /// not in force until it is sent, and it is sent only when a consent command runs after its
    /// moment (run `consent queue` from a timer). Revocations, opt-outs, erasure and restriction
    /// requests always leave at once (revocations are spread only when you ask: `consent revoke
    /// --all --spread`).
    #[arg(long, value_name = "DURATION|off")]
    pub spread: Option<String>,
    /// Nodes to spread your feeds over, each feed always using one of them (comma-separated or
    /// repeated; ideally run by different operators, so that no one operator sees all your feeds
    /// arrive from your address); `none`: the node given with --node. A feed whose node cannot
    /// be reached waits for it (only a withdrawal goes to --node instead).
    #[arg(long = "nodes", value_name = "URL", value_delimiter = ',')]
    pub nodes: Vec<String>,
    /// Everything off: exact times, sent at once, and the node given with --node (unless --nodes
    /// is given too). Your feeds can then be linked by their times and arrival, and exact times
    /// among coarse ones mark your entries.
    #[arg(long, conflicts_with_all = ["coarse", "spread", "default"])]
    pub off: bool,
    /// Back to the default: times rounded to 15 minutes, entries spread over 30 minutes, and the
    /// node given with --node (unless --nodes is given too).
    #[arg(long, conflicts_with_all = ["coarse", "spread"])]
    pub default: bool,
}

/// A duration, or `off`.
fn duration_or_off(flag: &str, text: &str) -> anyhow::Result<Option<u64>> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let d = humantime::parse_duration(text.trim())
        .with_context(|| format!("{flag}: {text:?} is not a duration (e.g. 15m) nor off"))?;
    Ok(Some(d.as_millis() as u64))
}

fn ms_text(ms: Option<u64>) -> Option<String> {
    ms.map(|ms| humantime::format_duration(std::time::Duration::from_millis(ms)).to_string())
}

pub fn privacy(a: PrivacyArgs, g: &Global) -> anyhow::Result<()> {
    let mut ks = g.open(Role::Citizen)?;
    let changed =
        a.off || a.default || a.coarse.is_some() || a.spread.is_some() || !a.nodes.is_empty();
    // A change is made under the send queue's lock, on the keystore as it is then: a command
    // running meanwhile does not write its older copy back over it, nor this one over its.
    let _lock = if changed {
        let lock = QueueLock::take(&queue::path_for(ks.path()))?;
        ks.reload()?;
        Some(lock)
    } else {
        None
    };
    let mut s = if a.off {
        Settings::off()
    } else if a.default {
        Settings::default()
    } else {
        ks.state.privacy.clone().unwrap_or_default()
    };
    if let Some(text) = &a.coarse {
        s.coarse_ms = duration_or_off("--coarse", text)?;
    }
    if let Some(text) = &a.spread {
        s.spread_ms = duration_or_off("--spread", text)?;
    }
    if !a.nodes.is_empty() {
        s.nodes = if a.nodes.len() == 1 && a.nodes[0].trim() == "none" {
            Vec::new()
        } else {
            a.nodes.iter().map(|n| n.trim().to_string()).collect()
        };
    }
    s.check().map_err(anyhow::Error::msg)?;
    if changed {
        ks.state.privacy = (s != Settings::default()).then(|| s.clone());
        ks.save()?;
    }
    let is_default = s == Settings::default();
    let mut human = format!(
        "Privacy of your pairwise feeds{}: {}.",
        if is_default { " (the default)" } else { "" },
        s.describe()
    );
    human.push_str(
        "\n\nEach collector knows you by a subject id of its own, and no id, key or field of the \
         ledger links two of your feeds. What can still link them is when you act: entries \
         signed and sent together. Coarse times and a spread send reduce that (they do not \
         remove it); revocations still leave at once (several at once stay adjacent: consent \
         revoke --all --spread asks to spread them), and the nodes you connect to see your \
         address. Queued entries leave only when a consent command runs after their moments: \
         run `consent queue` from a timer (README, Privacy). `consent wallet prepare` creates \
         your feeds ahead of use; `consent --now` signs exact times and sends at once for one \
         command.",
    );
    if !is_default {
        human.push_str(
            "\n\nThis is not the default: a setting few wallets use marks your entries among \
             everyone else's, so that your feeds stand out together (consent wallet privacy \
             --default goes back).",
        );
    }
    if s.coarse_ms.is_none() && s.spread_ms.is_none() {
        human.push_str(
            "\n\nWith exact times sent at once, an observer of the public ledger can link most \
             of the feeds you use together (docs/privacy.md measures it).",
        );
    }
    emit(
        g.json,
        human,
        json!({
            "coarse": ms_text(s.coarse_ms),
            "coarse_ms": s.coarse_ms,
            "spread": ms_text(s.spread_ms),
            "spread_ms": s.spread_ms,
            "nodes": s.nodes,
            "default": is_default,
            "changed": changed,
        }),
    );
    Ok(())
}

/// `consent wallet prepare`.
#[derive(Args, Debug)]
pub struct PrepareArgs {
    /// Collectors to prepare a feed for: `all` (every collector a registrar accredits now, read
    /// from the node's public log, so that the node does not learn which ones you care about), or
    /// collector ids (col1..., comma-separated or repeated).
    #[arg(long = "collectors", value_delimiter = ',', default_value = "all")]
    pub collectors: Vec<String>,
    /// Each inception is sent at its own random moment within this window (1s to 7d). Prepare a
    /// day ahead: a feed used before its inception's moment sends it with its first grant.
    #[arg(long, default_value = "24h", value_name = "DURATION")]
    pub over: String,
}

/// `consent wallet prepare`: the inceptions of the pairwise feeds for `collectors`, queued at
/// independent random moments, so that a feed's creation says nothing about its use.
pub async fn prepare(a: PrepareArgs, g: &Global) -> anyhow::Result<()> {
    if g.now() {
        bail!(
            "consent wallet prepare sends each inception at its own moment over --over; with \
             --now (or CONSENT_NOW) it would send them all at once, one after the other, linking \
             every one of your feeds: run it without"
        );
    }
    let window = humantime::parse_duration(a.over.trim())
        .with_context(|| format!("--over: {:?} is not a duration (e.g. 24h)", a.over))?
        .as_millis() as u64;
    if !(privacy::MIN_PRIVACY_MS..=privacy::MAX_PREPARE_MS).contains(&window) {
        bail!("--over: from 1s to 7d");
    }
    let mut ks = g.open(Role::Citizen)?;
    let node = g.connect().await?;
    let collectors: Vec<FeedId> = if a.collectors.len() == 1 && a.collectors[0].trim() == "all" {
        accredited(&node, time::now_ms()).await?
    } else {
        a.collectors
            .iter()
            .map(|c| feed_arg("--collectors", c.trim(), Role::Collector))
            .collect::<anyhow::Result<_>>()?
    };
    let mut out = Outbox::open(g, &mut ks, &node, false).await?;
    let mut items = Vec::new();
    let mut known = Vec::new();
    for c in &collectors {
        let key = c.typed(Role::Collector).to_string();
        let feed = wallet::pairwise_feed(ks.master(), c);
        // A feed this wallet has used or prepared (it asks no node: that would say which).
        if ks.state.pairwise.contains_key(&key) || out.holds(&ks, &feed)? {
            known.push(key);
            continue;
        }
        let (_, inception) =
            wallet::pairwise_inception(ks.master(), c).map_err(anyhow::Error::msg)?;
        let state = ks.state.pairwise.entry(key).or_default();
        state.journal_from.get_or_insert(0);
        state.signed.push(inception.id.to_string());
        items.push(Item {
            entry: inception,
            collector: *c,
            what: "feed inception",
            at_once: false,
        });
    }
    // Journalled before anything is queued or sent.
    ks.save()?;
    let over = window;
    let prepared: Vec<(FeedId, FeedId)> = items
        .iter()
        .map(|it| (it.collector, it.entry.feed))
        .collect();
    let fates = out.dispatch_over(g, &ks, items, over).await?;
    let mut listed = Vec::new();
    for ((collector, feed), fate) in prepared.iter().zip(&fates) {
        let (state, when) = match fate {
            Fate::Sent { .. } => ("sent", time::format(time::now_ms())),
            Fate::Queued { due_ms, .. } => ("queued", time::format(*due_ms)),
        };
        listed.push(json!({
            "collector": collector.typed(Role::Collector).to_string(),
            "subject": feed.typed(Role::Citizen).to_string(),
            "state": state,
            "send_at": when,
        }));
    }
    let until = fates
        .iter()
        .filter_map(|f| match f {
            Fate::Queued { due_ms, .. } => Some(*due_ms),
            Fate::Sent { .. } => None,
        })
        .max();
    emit(
        g.json,
        format!(
            "Prepared {} feed(s){}; {} already known to this wallet.{}",
            listed.len(),
            match until {
                Some(u) => format!(
                    ": each inception is sent at its own random moment, the last by {}",
                    time::format(u)
                ),
                None => String::new(),
            },
            known.len(),
            if listed.is_empty() {
                ""
            } else {
                " Their creation then says nothing about when you will use them, provided a \
                 consent command runs at those moments: without a timer running `consent queue` \
                 (README, Privacy) they leave with your later commands, one feed per command."
            }
        ),
        json!({"prepared": listed, "known": known}),
    );
    Ok(())
}

/// Every collector that a registrar's latest statement about it accredits at `now`, read from
/// the node's whole public log (`Ledger.GetLog`): the node learns nothing of which collectors
/// the wallet cares about.
async fn accredited(node: &NodeConnection, now: u64) -> anyhow::Result<Vec<FeedId>> {
    let mut ledger = pb::ledger_client::LedgerClient::new(node.channel());
    let mut registrars: HashSet<FeedId> = HashSet::new();
    // (registrar, collector) -> valid_until of its latest accreditation, None after a suspension.
    let mut latest: HashMap<(FeedId, FeedId), Option<u64>> = HashMap::new();
    let mut next = 0u64;
    loop {
        let mut stream = ledger
            .get_log(pb::GetLogRequest {
                from_index: next,
                limit: 0,
            })
            .await
            .context("the node does not serve its log")?
            .into_inner();
        let before = next;
        while let Some(item) = stream.message().await? {
            next = next.max(item.index + 1);
            let Some(entry) = item.entry.as_ref().and_then(|s| Entry::from_signed(s).ok()) else {
                continue;
            };
            match &entry.body {
                Body::Inception(i) if i.role == Role::Registrar => {
                    registrars.insert(entry.feed);
                }
                Body::Accreditation(x) if registrars.contains(&entry.feed) => {
                    latest.insert((entry.feed, x.collector), Some(x.valid_until));
                }
                Body::Suspension(x) if registrars.contains(&entry.feed) => {
                    latest.insert((entry.feed, x.collector), None);
                }
                _ => {}
            }
        }
        if next == before {
            break;
        }
    }
    let found: BTreeSet<FeedId> = latest
        .into_iter()
        .filter(|(_, until)| until.is_some_and(|u| u > now))
        .map(|((_, collector), _)| collector)
        .collect();
    if found.is_empty() {
        eprintln!(
            "consent: {} lists no accredited collector; nothing to prepare",
            node.url()
        );
    }
    Ok(found.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_off_parse() {
        assert_eq!(
            duration_or_off("--coarse", "15m").expect("15m"),
            Some(900_000)
        );
        assert_eq!(duration_or_off("--coarse", "OFF").expect("off"), None);
        assert!(duration_or_off("--coarse", "soon").is_err());
        assert_eq!(ms_text(Some(1_800_000)).as_deref(), Some("30m"));
    }
}
