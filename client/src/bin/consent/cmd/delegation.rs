//! `consent wallet delegate-offer | delegate | undelegate`: letting someone act in your name,
//! and acting in someone else's (`delegations.rs` lists them).
//!
//! The offline exchange is one code each way: the delegate runs `delegate-offer` and hands over
//! the `dlg1…` code it prints (fresh delegate feed ids); the person runs `delegate --to CODE`,
//! which writes one Delegation in each selected pairwise feed, each naming another id of the
//! code, so the ledger cannot link the person's feeds through their delegate. Withdrawing is one
//! command too (`undelegate`), by the person or by the delegate resigning; an undelegation is a
//! withdrawal, signed like a revocation (queued entries held for a conflict do not stop it), and
//! `undelegate --all` goes on past a delegation it cannot end and says so, as `revoke --all`
//! does.

use anyhow::bail;
use clap::Args;
use consent_client::delegate::offer;
use consent_client::keystore::Given;
use consent_client::time;
use consent_proto::body::{Body, Delegation, Undelegation};
use consent_proto::delegation::void_from;
use consent_proto::ids::{EntryId, FeedId, TypedFeedId};
use consent_proto::limits::MIN_TIME_MS;
use consent_proto::vocab::{DelegatedPower, DelegationKind, PowerSet, Purpose, PurposeSet, Role};
use serde_json::json;

use crate::ctx::{self, Global, emit, entry_arg, feed_arg};
use crate::delegates;

/// `consent wallet delegate-offer`.
#[derive(Args, Debug)]
pub struct OfferArgs {
    /// How many of the person's feeds you may act for (one id each: one per collector they
    /// delegate for), 1 to 16.
    #[arg(long, default_value_t = 1)]
    pub feeds: usize,
    /// What you call the person (stays in your wallet; you act with --as NAME).
    #[arg(long)]
    pub name: String,
}

/// `consent wallet delegate-offer`: fresh delegate feeds reserved for one person, as a code.
pub fn make_offer(a: OfferArgs, g: &Global) -> anyhow::Result<()> {
    if a.feeds == 0 || a.feeds > offer::MAX_OFFER_FEEDS {
        bail!("--feeds must be 1..={}", offer::MAX_OFFER_FEEDS);
    }
    let name = delegates::label_arg(&a.name)?;
    let mut ks = g.open(Role::Citizen)?;
    let slots = delegates::new_slots(&mut ks, &name, a.feeds);
    let feeds: Vec<FeedId> = slots
        .iter()
        .map(|s| delegates::slot_feed(&ks, *s))
        .collect();
    let code = offer::encode(&feeds)?;
    ks.save()?;
    emit(
        g.json,
        format!(
            "Give this code to {name} (it holds {} fresh id(s) of yours, one per collector they \
             let you act for):\n\n    {code}\n\nThey run `consent wallet delegate --to CODE --can \
             ...`; then you act with `consent --as {name:?} grant|revoke|request ...`.",
            feeds.len()
        ),
        json!({
            "code": code,
            "name": name,
            "feeds": feeds.iter().map(|f| f.typed(Role::Citizen).to_string()).collect::<Vec<_>>(),
        }),
    );
    Ok(())
}

/// `consent wallet delegate`.
#[derive(Args, Debug)]
pub struct DelegateArgs {
    /// The code the person you let act for you gave you (dlg1..., from their
    /// `consent wallet delegate-offer`).
    #[arg(long = "to", value_name = "CODE")]
    pub code: String,
    /// What they may do in your name: grant (which lets them revoke too), revoke, request, or
    /// all; comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub can: Vec<String>,
    /// Until when (2027-01-31, RFC 3339, a duration like 90d, or never); default: never (until
    /// you undelegate).
    #[arg(long)]
    pub until: Option<String>,
    /// Only for this collector (repeat; default: every collector you have a feed with). One
    /// delegation is written per collector, each in that collector's feed.
    #[arg(long = "collector")]
    pub collectors: Vec<String>,
    /// Only grants for this purpose (repeat; default: any purpose).
    #[arg(long = "purpose")]
    pub purposes: Vec<String>,
    /// What you call them (stays in your wallet; `undelegate --name` uses it).
    #[arg(long)]
    pub name: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

/// Reads `--can`.
fn powers_arg(can: &[String]) -> anyhow::Result<PowerSet> {
    let mut set = PowerSet::EMPTY;
    for p in can {
        if p.trim().eq_ignore_ascii_case("all") {
            set = DelegatedPower::ALL.iter().copied().collect();
        } else {
            set.insert(
                DelegatedPower::from_name(p)
                    .map_err(|e| anyhow::anyhow!("--can {p:?}: {e} (or all)"))?,
            );
        }
    }
    if set.is_empty() {
        bail!("--can: say what they may do: grant, revoke, request or all");
    }
    Ok(set)
}

/// Refuses what a minor's wallet may not sign before coming of age, as a node would.
fn refuse_minor(ks: &consent_client::keystore::Keystore, what: &str) -> anyhow::Result<()> {
    if let Some(m) = &ks.state.minor
        && time::now_ms() < m.comes_of_age_ms
    {
        bail!(
            "refused here, as a node would refuse it: this wallet's feeds are a minor's until {}: \
             they cannot {what} (minor-feed)",
            time::format(m.comes_of_age_ms)
        );
    }
    Ok(())
}

/// `consent wallet delegate --to CODE`: one Delegation per selected pairwise feed.
pub async fn delegate(a: DelegateArgs, g: &Global) -> anyhow::Result<()> {
    let ids = offer::decode(&a.code).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    let powers = powers_arg(&a.can)?;
    let now = time::now_ms();
    let until = match a.until.as_deref().map(str::trim) {
        None | Some("never") => None,
        Some(text) => {
            let u = time::parse(text).map_err(|e| anyhow::anyhow!("--until: {e}"))?;
            if u <= now {
                bail!("--until is in the past");
            }
            Some(u)
        }
    };
    let purposes: PurposeSet = a
        .purposes
        .iter()
        .map(|p| Purpose::from_name(p))
        .collect::<Result<_, _>>()?;
    let name = a.name.as_deref().map(delegates::label_arg).transpose()?;
    let mut ks = g.open(Role::Citizen)?;
    refuse_minor(&ks, "delegate")?;
    let digest = offer::digest(&ids);
    let used_id = ids.iter().find(|id| {
        let text = id.typed(Role::Citizen).to_string();
        ks.state.given.iter().any(|d| d.delegate == text)
    });
    if ks.state.offers_used.contains(&digest) || used_id.is_some() {
        bail!(
            "this code was used already: each delegation names a fresh id; ask them for a new one \
             (consent wallet delegate-offer)"
        );
    }
    let collectors: Vec<FeedId> = if a.collectors.is_empty() {
        ks.state
            .pairwise
            .keys()
            .map(|c| TypedFeedId::parse_role(c, Role::Collector))
            .collect::<Result<_, _>>()?
    } else {
        let mut out = Vec::new();
        for c in &a.collectors {
            let id = feed_arg("--collector", c, Role::Collector)?;
            if !ks
                .state
                .pairwise
                .contains_key(&id.typed(Role::Collector).to_string())
            {
                bail!(
                    "you have no feed with {c} yet: a delegation sits in your feed with one \
                     collector (grant or request there first)"
                );
            }
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out
    };
    if collectors.is_empty() {
        bail!(
            "you have no feed with any collector yet: a delegation sits in your feed with one \
             collector (grant or request there first)"
        );
    }
    if ids.len() < collectors.len() {
        bail!(
            "the code holds {} id(s) and {} collector(s) are selected: ask for a code with \
             --feeds {}, or name fewer collectors with --collector",
            ids.len(),
            collectors.len(),
            collectors.len()
        );
    }
    let powers_text: Vec<&str> = powers.iter().map(|p| p.name()).collect();
    if !a.yes {
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            bail!("a delegation must be confirmed and there is no terminal: add --yes to confirm");
        }
        eprintln!(
            "You are about to let the holder of that code {} in your name, for {} collector(s), \
             {}{}.\nYou can withdraw it at any time: consent wallet undelegate.",
            powers_text.join(", "),
            collectors.len(),
            if purposes.is_empty() {
                "any purpose".to_string()
            } else {
                format!(
                    "purposes {}",
                    purposes
                        .iter()
                        .map(|p| p.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            until
                .map(|u| format!(", until {}", time::format(u)))
                .unwrap_or_default()
        );
        if !ctx::confirm("Sign and submit?")? {
            bail!("nothing was signed");
        }
    }
    // From here until what is signed is sent: no other command signs in these feeds.
    let _queue = crate::outbox::hold_queue(&mut ks, false)?;
    // The code counts as used before anything is submitted: never two people on one id.
    ks.state.offers_used.push(digest);
    ks.save()?;
    let mut node = g.connect().await?;
    let mut made = Vec::new();
    for (collector, delegate) in collectors.iter().zip(ids.iter()) {
        let mut author = ctx::pairwise(&mut node, &mut ks, collector).await?;
        let body = Body::Delegation(Delegation {
            delegate: *delegate,
            powers,
            collectors: vec![*collector],
            purposes,
            valid_until: until,
            kind: DelegationKind::Assistant,
            co_signer: None,
        });
        let entry = author
            .append(time::now_ms(), body)
            .map_err(anyhow::Error::msg)?;
        ctx::journal(&mut ks, collector, &entry)?;
        ks.state.given.push(Given {
            delegation: entry.id.to_string(),
            collector: collector.typed(Role::Collector).to_string(),
            delegate: delegate.typed(Role::Citizen).to_string(),
            name: name.clone(),
        });
        ks.save()?;
        crate::send::submit_recorded(&mut node, &ks, collector, &[(&entry, "delegation")]).await?;
        made.push(json!({
            "delegation": entry.id.to_string(),
            "collector": collector.typed(Role::Collector).to_string(),
            "delegate": delegate.typed(Role::Citizen).to_string(),
        }));
    }
    emit(
        g.json,
        format!(
            "Delegated ({}) for {} collector(s){}: {}\nWithdraw with: consent wallet undelegate \
             ID (or --name NAME, or --all)",
            powers_text.join(", "),
            made.len(),
            until
                .map(|u| format!(" until {}", time::format(u)))
                .unwrap_or_default(),
            made.iter()
                .map(|m| m["delegation"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        json!({
            "delegations": made,
            "powers": powers_text,
            "purposes": purposes.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "until": until.map(time::format),
            "name": name,
        }),
    );
    Ok(())
}

/// `consent wallet undelegate`.
#[derive(Args, Debug)]
pub struct UndelegateArgs {
    /// The delegation (ent1...) to end: one you gave, or one you hold (you resign).
    pub id: Option<String>,
    /// Every delegation given to, or held for, the person of that name.
    #[arg(long)]
    pub name: Option<String>,
    /// Every delegation you gave and every one you hold. One that cannot be ended is named, the
    /// others are ended, and the command fails so that you run it again.
    #[arg(long)]
    pub all: bool,
    /// What the delegate signed from this time on stops counting (RFC 3339, up to now; default:
    /// 5 minutes before now). Set it earlier if you suspect misuse before.
    #[arg(long, value_name = "RFC3339")]
    pub void_from: Option<String>,
}

/// `consent wallet undelegate`: the person writes an Undelegation in each feed; a delegate
/// resigns in its own feed. With --all or --name it goes on past a delegation it cannot end (its
/// node refusing, a feed that cannot be signed in now), says what it ended and what it did not,
/// and fails (exit 1) when anything was not ended, so that a retry does the rest.
pub async fn undelegate(a: UndelegateArgs, g: &Global) -> anyhow::Result<()> {
    let chosen = usize::from(a.id.is_some()) + usize::from(a.name.is_some()) + usize::from(a.all);
    if chosen != 1 {
        bail!("say which delegations: a delegation id, --name NAME, or --all (one of them)");
    }
    let id = a.id.as_deref().map(|t| entry_arg("<id>", t)).transpose()?;
    let now = time::now_ms();
    let void_from_ms = match a.void_from.as_deref() {
        None => None,
        Some(t) => {
            let v = time::parse(t).map_err(|e| anyhow::anyhow!("--void-from: {e}"))?;
            if !(MIN_TIME_MS..=now).contains(&v) {
                bail!("--void-from must be in the past (and after 2020)");
            }
            Some(v)
        }
    };
    let wanted = |delegation: &EntryId, name: Option<&str>| match (&id, &a.name) {
        (Some(i), _) => i == delegation,
        (None, Some(n)) => name == Some(n.as_str()),
        (None, None) => a.all,
    };
    let mut ks = g.open(Role::Citizen)?;
    // An undelegation is a withdrawal: it waits longer for another command to finish.
    let _queue = crate::outbox::hold_queue(&mut ks, true)?;
    let mut node = g.connect().await?;
    // What could not be ended, said with what was (as `revoke --all` does): with --all or
    // --name, a feed that fails does not stop the others.
    let mut failed: Vec<NotEnded> = Vec::new();
    // Delegations this wallet gave, feed by feed.
    let mut given = Vec::new();
    for c in ks.state.pairwise.keys() {
        let collector = TypedFeedId::parse_role(c, Role::Collector)?;
        let subject = consent_client::wallet::pairwise_feed(ks.master(), &collector);
        let listed = match node.list_delegations(&subject).await {
            Ok(listed) => listed,
            Err(e) if id.is_none() => {
                failed.push(NotEnded {
                    direction: "given",
                    delegation: None,
                    collector: Some(collector),
                    why: format!("the delegations of that feed could not be listed: {e}"),
                });
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for d in listed {
            let text = d.id.to_string();
            let name = ks
                .state
                .given
                .iter()
                .find(|x| x.delegation == text)
                .and_then(|x| x.name.clone());
            if d.person == subject && wanted(&d.id, name.as_deref()) {
                given.push((collector, d));
            }
        }
    }
    let held: Vec<delegates::Held> = match delegates::held(&mut node, &ks, None).await {
        Ok(all) => all
            .into_iter()
            .filter(|h| wanted(&h.record.id, Some(h.label.as_str())))
            .collect(),
        Err(e) if id.is_none() => {
            failed.push(NotEnded {
                direction: "held",
                delegation: None,
                collector: None,
                why: format!("the delegations you hold could not be listed: {e:#}"),
            });
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    if given.is_empty() && held.is_empty() && failed.is_empty() {
        bail!("no delegation you gave or hold matches; `consent wallet delegations` lists them");
    }
    if given
        .iter()
        .any(|(_, d)| d.delegation.kind == DelegationKind::Guardian)
    {
        refuse_minor(&ks, "end a guardian's delegation")?;
    }
    let mut done = Vec::new();
    let body = |delegation: EntryId| {
        Body::Undelegation(Undelegation {
            delegation,
            void_from_ms,
        })
    };
    for (collector, d) in &given {
        // An undelegation is a withdrawal (it limits what a delegate may do): like a revocation,
        // it is not stopped by queued entries of its feed held for a conflict.
        let ended = async {
            let mut author = ctx::pairwise_for(&mut node, &mut ks, collector, true).await?;
            let entry = author
                .append(time::now_ms(), body(d.id))
                .map_err(anyhow::Error::msg)?;
            ctx::journal(&mut ks, collector, &entry)?;
            crate::send::submit_recorded(&mut node, &ks, collector, &[(&entry, "undelegation")])
                .await?;
            Ok::<_, anyhow::Error>(entry)
        }
        .await;
        match ended {
            Ok(entry) => done.push(("given", d.id, Some(*collector), entry)),
            Err(e) => failed.push(NotEnded {
                direction: "given",
                delegation: Some(d.id),
                collector: Some(*collector),
                why: format!("{e:#}"),
            }),
        }
    }
    for h in &held {
        let ended = async {
            delegates::sign_in_slot(
                &mut node,
                &mut ks,
                h.slot,
                true,
                time::now_ms(),
                body(h.record.id),
                "resignation",
            )
            .await
        }
        .await;
        match ended {
            Ok(entry) => done.push(("held", h.record.id, None, entry)),
            Err(e) => failed.push(NotEnded {
                direction: "held",
                delegation: Some(h.record.id),
                collector: None,
                why: format!("{e:#}"),
            }),
        }
    }
    ks.save()?;
    for (direction, delegation, collector, entry) in &done {
        let bound = match &entry.body {
            Body::Undelegation(u) => void_from(u, entry.time_ms),
            _ => entry.time_ms,
        };
        emit(
            g.json,
            format!(
                "{} delegation {delegation}: what its delegate signs from {} on does not count. \
                 Undelegation id: {}",
                if *direction == "given" {
                    "Withdrew"
                } else {
                    "Resigned from"
                },
                time::format(bound),
                entry.id
            ),
            json!({
                "undelegation": entry.id.to_string(),
                "delegation": delegation.to_string(),
                "direction": direction,
                "collector": collector.map(|c| c.typed(Role::Collector).to_string()),
                "void_from": time::format(bound),
            }),
        );
    }
    for f in &failed {
        emit(g.json, f.text(), f.json());
    }
    if !failed.is_empty() {
        bail!(
            "{} of the delegations could not be ended (named above): run consent wallet \
             undelegate again (what was ended stays ended)",
            failed.len()
        );
    }
    Ok(())
}

/// A delegation `undelegate` could not end, or a list of them it could not read.
struct NotEnded {
    /// `given` (the person's undelegation) or `held` (a delegate's resignation).
    direction: &'static str,
    /// The delegation (`None`: the delegations could not be listed).
    delegation: Option<EntryId>,
    /// The collector of the person's feed it is in (one this wallet gave).
    collector: Option<FeedId>,
    /// Why.
    why: String,
}

impl NotEnded {
    fn text(&self) -> String {
        let verb = if self.direction == "given" {
            "NOT withdrawn"
        } else {
            "NOT resigned from"
        };
        let collector = self
            .collector
            .map(|c| format!(" (collector {})", c.typed(Role::Collector)))
            .unwrap_or_default();
        match &self.delegation {
            Some(d) => format!("{verb}: delegation {d}{collector}: {}", self.why),
            None => format!("{verb}: any delegation{collector}: {}", self.why),
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "undelegation": null,
            "delegation": self.delegation.map(|d| d.to_string()),
            "direction": self.direction,
            "collector": self.collector.map(|c| c.typed(Role::Collector).to_string()),
            "error": self.why,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn can_reads_powers_and_all() {
        let p = powers_arg(&["grant".into(), "request".into()]).expect("fine");
        assert!(p.contains(DelegatedPower::Grant) && p.contains(DelegatedPower::Request));
        assert!(!p.contains(DelegatedPower::Revoke));
        assert_eq!(powers_arg(&["all".into()]).expect("fine").len(), 3);
        assert!(powers_arg(&["sell".into()]).is_err());
        assert!(powers_arg(&[]).is_err());
    }
}
