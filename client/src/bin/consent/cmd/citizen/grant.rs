//! `consent grant`: reading the grant's terms from the arguments and the collector's policy
//! (shared with a grant in someone else's name), showing them, and signing and submitting the
//! grant, with `--replace`'s revocations of older, wider grants in the same batch.

use anyhow::{Context as _, bail};
use clap::Args;
use consent_client::node::{ClientError, NodeConnection, node_url};
use consent_client::privacy::coarse::{self, Exactness};
use consent_client::time;
use consent_client::wallet;
use consent_proto::body::{Body, Grant, Revoke};
use consent_proto::ids::EntryId;
use consent_proto::vocab::{CategorySet, DataCategory, Purpose, PurposeSet, RequestKind, Role};
use serde_json::json;

use super::policy::known_policy;
use crate::cmd::{child, consult, delegated, on_behalf};
use crate::ctx::{self, Global, emit, feed_arg};
use crate::outbox::{self, Fate, Item, Outbox, fate_text};
use crate::{describe, narrow, send, wider};

/// `consent grant`.
#[derive(Args, Debug)]
pub struct GrantArgs {
    /// Collector id (col1...).
    pub collector: String,
    /// Purposes you consent to (repeat), e.g. service-provision.
    #[arg(long = "purpose", required = true)]
    pub purposes: Vec<String>,
    /// Data categories you consent to (repeat), e.g. vehicle.
    #[arg(long = "category", required = true)]
    pub categories: Vec<String>,
    /// Consent ends at this date (2027-01-31, RFC 3339, or a duration like 90d); default: until revoked.
    #[arg(long)]
    pub until: Option<String>,
    /// Longest retention you accept, in days (default: the policy's).
    #[arg(long)]
    pub retention_days: Option<u32>,
    /// Only in this zone of the policy, by id or name (repeat; default: every zone it declares).
    /// Digits are always read as an id, even if a zone is named so; a name that two zones share
    /// is refused: give the id instead.
    #[arg(long = "zone", value_name = "ID|NAME")]
    pub zones: Vec<String>,
    /// Only from this sensor of the policy, by id (repeat; default: every sensor).
    #[arg(long = "sensor", value_name = "ID")]
    pub sensors: Vec<u32>,
    /// Only from sensors of this kind, e.g. air-quality (repeat; `consent vocab` lists them).
    #[arg(long = "sensor-kind", value_name = "KIND")]
    pub sensor_kinds: Vec<String>,
    /// Only on these days: mon-fri, sat,sun, all. Alone: whole days; with --hours: the days of
    /// those hours (default: the days the policy collects).
    #[arg(long, value_name = "DAYS")]
    pub days: Option<String>,
    /// Only in these hours, in the policy's fixed UTC offset, e.g. 07:00-19:00 (repeat;
    /// 22:00-06:00 runs past midnight).
    #[arg(long = "hours", value_name = "HH:MM-HH:MM")]
    pub hours: Vec<String>,
    /// The least protective form you accept for a purpose, e.g. billing=pseudonymised (repeat;
    /// one of the forms the policy offers for it).
    #[arg(long = "form", value_name = "PURPOSE=FORM")]
    pub forms: Vec<String>,
    /// Also revoke your older grants to this collector that allow more than this one (for a
    /// purpose and category both cover), so that this one narrows your consent: a check is
    /// allowed when any of your grants allows it.
    ///
    /// Without --replace, such grants are named and left in force. With it, their revocations
    /// come first in your feed and this grant right after, all in one submission: the node you
    /// use applies them together, and no node applies the grant before the revocations, so the
    /// collector never holds more consent than you give here, at most (between nodes, or if the
    /// node refuses the new grant) for a moment less. A grant is revoked whole: the purposes and
    /// categories it covers beyond this one are withdrawn too (they are named before you
    /// confirm).
    #[arg(long)]
    pub replace: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

/// What `consent grant` would sign, read from its arguments and the collector's policy in
/// effect at the node: the grant (in no one else's name), and that policy.
pub struct Terms {
    /// The collector's policy in effect, by id.
    pub policy_id: EntryId,
    /// The policy.
    pub policy: consent_proto::body::Policy,
    /// The grant.
    pub grant: Grant,
}

/// Reads and checks `consent grant`'s arguments against the collector's policy in effect, for a
/// grant valid from `now`.
pub async fn terms(
    a: &GrantArgs,
    node: &mut consent_client::node::NodeConnection,
    now: u64,
) -> anyhow::Result<Terms> {
    let collector = feed_arg("<collector>", &a.collector, Role::Collector)?;
    let purposes: PurposeSet = a
        .purposes
        .iter()
        .map(|p| Purpose::from_name(p))
        .collect::<Result<_, _>>()?;
    let categories: CategorySet = a
        .categories
        .iter()
        .map(|c| DataCategory::from_name(c))
        .collect::<Result<_, _>>()?;
    let until = a
        .until
        .as_deref()
        .map(time::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let (policy_id, policy) = known_policy(node, &collector, &a.collector).await?;
    let retention = match within_policy(a, purposes, categories, &policy) {
        Ok(r) => r,
        Err(e) => {
            return Err(consult::with_draft_note(node, &collector, &policy_id, e).await);
        }
    };
    let flags = narrow::Flags {
        zones: a.zones.clone(),
        sensors: a.sensors.clone(),
        sensor_kinds: a.sensor_kinds.clone(),
        days: a.days.clone(),
        hours: a.hours.clone(),
        forms: a.forms.clone(),
    };
    let scope = narrow::grant_scope(&flags, purposes, &policy)?;
    if until.is_some_and(|u| u <= now) {
        bail!("--until is in the past");
    }
    let grant = Grant {
        collector,
        policy: policy_id,
        purposes,
        categories,
        retention_days: retention,
        valid_from: now,
        valid_until: until,
        scope,
        on_behalf: None,
    };
    Ok(Terms {
        policy_id,
        policy,
        grant,
    })
}

pub async fn grant(a: GrantArgs, g: &Global) -> anyhow::Result<()> {
    if !a.yes && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        bail!("a grant must be confirmed and there is no terminal: add --yes to confirm");
    }
    if let Some(who) = &g.as_person {
        return on_behalf::grant(&a, who, g).await;
    }
    let mut ks = g.open(Role::Citizen)?;
    let mut node = g.connect().await?;
    let now = time::now_ms();
    let collector = feed_arg("<collector>", &a.collector, Role::Collector)?;
    let subject_feed = wallet::pairwise_feed(ks.master(), &collector);
    let subject = subject_feed.typed(Role::Citizen).to_string();
    // What this feed reads goes to the feed's own node: another node's operator would see
    // which feeds this address uses, and when.
    let feed_url = send::feed_url(&g.node, &ks, &subject_feed);
    let mut reader = if node_url(&feed_url) == node_url(&g.node) {
        node.clone()
    } else {
        NodeConnection::connect_with(&feed_url, &g.tls()?)
            .await
            .with_context(|| {
                format!("the node of this feed, {feed_url}, cannot be reached; try again later")
            })?
    };
    let Terms {
        policy_id,
        policy,
        grant: terms,
    } = terms(&a, &mut reader, now).await?;
    let privacy = outbox::settings(g, &ks);
    child::refuse_minor_grant(&ks, now)?;
    child::coming_of_age_notice(&mut node, &mut ks).await?;
    // A check is allowed when any grant allows it: a wider grant in force (or queued) would
    // keep allowing what this one leaves out.
    let mut held = reader.feed(&subject_feed).await?;
    held.extend(
        send::queued(&ks)?
            .into_iter()
            .filter(|(e, _)| e.feed == subject_feed)
            .map(|(e, _)| e),
    );
    let new_scope = policy.scope.clone().unwrap_or_default();
    let wider_grants = wider::older_wider(&mut reader, &held, &terms, &new_scope, now).await?;
    if !g.json || !a.yes {
        show_grant(&terms, &policy, &subject);
        if a.replace && !wider_grants.is_empty() {
            eprintln!(
                "  With --replace this grant leaves at once, in one batch with the revocations, \
                 valid from the moment it is signed (rounded up: never before it was given).\n"
            );
        } else if let Some(line) = privacy_note(&privacy) {
            eprintln!("{line}\n");
        }
    }
    if !wider_grants.is_empty() {
        for line in wider::warning(&wider_grants, a.replace) {
            eprintln!("{line}");
        }
        eprintln!();
    }
    let question = if a.replace && !wider_grants.is_empty() {
        "Revoke those grants and sign and submit this one?"
    } else {
        "Sign and submit?"
    };
    if !a.yes && !ctx::confirm(question)? {
        bail!("nothing was signed");
    }
    let mut out = Outbox::open(g, &mut ks, &node, false).await?;
    // With --replace, a wider grant still queued and never handed to a node is withdrawn unseen
    // (nothing of it was public); the others are revoked.
    let mut withdrawn: Vec<(EntryId, Vec<EntryId>)> = Vec::new();
    let mut to_revoke: Vec<&wider::Wider> = Vec::new();
    if a.replace {
        for w in &wider_grants {
            match out.cancel(&mut ks, &w.id)? {
                Some(gone) => {
                    withdrawn.push((w.id, gone.iter().skip(1).map(|(e, _)| e.id).collect()))
                }
                None => to_revoke.push(w),
            }
        }
    }
    let replacing = !to_revoke.is_empty();
    let mut feed_node = out.nodes.for_feed(&ks, &subject_feed, false).await?;
    if replacing {
        // Revocations signed at the feed's node: not behind what `--node` holds (M4, R3).
        crate::send::up_to_main(&mut out.nodes, &mut feed_node, &subject_feed).await?;
    }
    // Signed now (not when the command started: the confirmation may have taken a while).
    let signing = time::now_ms();
    let opted_out_ms = if terms.purposes.iter().any(|p| p.is_sale_or_sharing()) {
        delegated_opt_out_ms(&mut feed_node, &subject_feed, &collector).await?
    } else {
        None
    };
    // A delegate's opt-out of sale and sharing in this person's name denies them under every
    // grant signed at or before it: a coarse time must not put a grant allowing them before one
    // it follows. The spec's one floor of an own grant's time besides its feed's previous entry:
    // just after such an opt-out (an opt-out signed after this moment, by a clock ahead of this
    // one, cannot be passed: the output says so). A minor's feed takes no floor: a grant is
    // refused before the coming-of-age instant (refuse_minor_grant), which is on every grid.
    let after_opt_out = coarse::after_delegated_opt_out(terms.purposes, opted_out_ms, signing);
    let mut terms = terms;
    terms.valid_until = terms
        .valid_until
        .map(|u| coarse::valid_until(privacy.coarse_ms, u));
    // With --replace, the revocations, then the grant, in one batch sent at once (see
    // --replace); the feed's queued entries go before them (ctx::pairwise).
    let mut revocations = Vec::new();
    let (entry, fate) = if replacing {
        let mut author = ctx::pairwise(&mut feed_node, &mut ks, &collector).await?;
        let prev_ms = feed_node
            .entry(&author.head())
            .await?
            .map_or(0, |e| e.time_ms);
        // The revocations take their own floor only (the feed's previous entry), the grant its
        // own too (the delegate's opt-out): each as the spec dates it, in feed order.
        let revoked_ms = out.signed_time(signing, prev_ms, Exactness::Coarse);
        let signed_ms = out.signed_time(signing, prev_ms.max(after_opt_out), Exactness::Coarse);
        // It leaves now with its revocations. Valid from the moment of signing rounded UP (as
        // any grant sent at once): never before it was given, since it may allow purposes,
        // categories or hours the grants it replaces never did (review N6).
        terms.valid_from =
            coarse::valid_from_due(privacy.coarse_ms, signing, signing).max(signed_ms);
        check_until(&terms)?;
        for w in &to_revoke {
            let revocation = author
                .append(
                    revoked_ms,
                    Body::Revoke(Revoke {
                        grant: w.id,
                        erase: false,
                        on_behalf: None,
                    }),
                )
                .map_err(anyhow::Error::msg)?;
            revocations.push((w.id, revocation));
        }
        let entry = author
            .append(signed_ms, Body::Grant(terms))
            .map_err(anyhow::Error::msg)?;
        for (_, revocation) in &revocations {
            ctx::journal(&mut ks, &collector, revocation)?;
        }
        ctx::journal(&mut ks, &collector, &entry)?;
        // One batch, applied by the node in one commit; recorded like any direct send.
        let mut batch: Vec<(&consent_proto::Entry, &str)> =
            revocations.iter().map(|(_, r)| (r, "revocation")).collect();
        batch.push((&entry, "grant"));
        crate::send::submit_recorded(&mut feed_node, &ks, &collector, &batch)
            .await
            .context(
                "replacing your grants did not complete: `consent list` shows what is in force",
            )?;
        let fate = Fate::Sent {
            node: feed_node.url().to_string(),
        };
        (entry, fate)
    } else {
        let resumed = out
            .author(&mut feed_node, &mut ks, &collector, false)
            .await?;
        let signed_ms = out.signed_time(
            signing,
            resumed.prev_ms.max(after_opt_out),
            Exactness::Coarse,
        );
        // In force from the boundary after the moment it is due to leave: never while it waits.
        let due = out.draw_due(signing);
        terms.valid_from = coarse::valid_from_due(privacy.coarse_ms, signing, due).max(signed_ms);
        check_until(&terms)?;
        let mut author = resumed.author;
        let entry = author
            .append(signed_ms, Body::Grant(terms))
            .map_err(anyhow::Error::msg)?;
        ctx::journal(&mut ks, &collector, &entry)?;
        let mut items = Vec::new();
        if let Some(inception) = resumed.inception {
            items.push(Item {
                entry: inception,
                collector,
                what: "feed inception",
                at_once: false,
            });
        }
        items.push(Item {
            entry: entry.clone(),
            collector,
            what: "grant",
            at_once: false,
        });
        let fates = out.dispatch(g, &ks, items).await?;
        let fate = fates.last().cloned().context("no fate for the grant")?;
        (entry, fate)
    };
    ks.save()?;
    // What was signed, read back from the entry itself.
    let (signed_scope, valid_from) = match &entry.body {
        Body::Grant(signed) => (
            signed.scope.as_ref().map(describe::grant_scope_json),
            signed.valid_from,
        ),
        _ => (None, signing),
    };
    let queued = matches!(fate, Fate::Queued { .. });
    let mut human = format!(
        "{} Grant id: {}\nYour subject id for this collector: {subject}",
        if queued { "Signed." } else { "Granted." },
        entry.id
    );
    if queued {
        human.push_str(&format!(
            "\n{}\nIt is NOT in force until it is sent, and from {} on.",
            fate_text("grant", &fate),
            time::format(valid_from)
        ));
    } else if valid_from > time::now_ms() {
        human.push_str(&format!(
            "\nIn force from {} (signed times are rounded: consent --now signs exact times).",
            time::format(valid_from)
        ));
    }
    let opted_out = opted_out_ms.filter(|t| *t >= entry.time_ms);
    if let Some(t) = opted_out {
        human.push_str(&format!(
            "\nNOT for selling or sharing: an opt-out of sale and sharing made in your name at {} \
             still denies them under this grant (a grant counts against an opt-out only when \
             signed after it); consent wallet delegations shows who made it.",
            time::format(t)
        ));
    }
    for (old, dropped) in &withdrawn {
        human.push_str(&format!(
            "\nWithdrew your queued grant {old}, which allowed more: it was never sent, so it was \
             never public{}.",
            if dropped.is_empty() {
                String::new()
            } else {
                format!(
                    " (queued after it, and withdrawn with it: {})",
                    dropped
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    for (old, revocation) in &revocations {
        human.push_str(&format!(
            "\nRevoked grant {old}, which allowed more. Revocation id: {}",
            revocation.id
        ));
    }
    if !a.replace {
        for w in &wider_grants {
            human.push_str(&format!(
                "\nStill in force and allowing more than this grant: {}; to consent to less, \
                 revoke it: consent revoke {}",
                w.id, w.id
            ));
        }
    }
    let send_at = match &fate {
        Fate::Queued { due_ms, .. } => Some(time::format(*due_ms)),
        Fate::Sent { .. } => None,
    };
    emit(
        g.json,
        human,
        json!({
            "grant": entry.id.to_string(),
            "subject": subject,
            "collector": a.collector,
            "policy": policy_id.to_string(),
            "scope": signed_scope,
            "wider_grants": wider_grants.iter().map(wider::json).collect::<Vec<_>>(),
            "replaced": revocations
                .iter()
                .map(|(old, r)| json!({"grant": old.to_string(), "revocation": r.id.to_string()}))
                .collect::<Vec<_>>(),
            "withdrawn": withdrawn
                .iter()
                .map(|(old, _)| old.to_string())
                .collect::<Vec<_>>(),
            "queued": queued,
            "send_at": send_at,
            "valid_from": time::format(valid_from),
            "opted_out_by_delegate": opted_out.map(time::format),
        }),
    );
    Ok(())
}

/// Refuses a `valid_until` not after `valid_from` (both rounded).
fn check_until(terms: &Grant) -> anyhow::Result<()> {
    if terms.valid_until.is_some_and(|u| u <= terms.valid_from) {
        bail!(
            "--until ends before the grant would be in force ({}: signed times are rounded, and a \
             queued grant is in force only from when it is sent, to protect your privacy); \
             nothing was signed: choose a later end, or pass --now for exact times sent at once",
            time::format(terms.valid_from)
        );
    }
    Ok(())
}

/// The latest signed time of an opt-out of sale and sharing that a delegate made in `person`'s
/// name for `collector` and that counts (signed while its delegation allowed withdrawals): it
/// denies sale and sharing under every grant of the person signed at or before it (the decision
/// rule, consent-proto "Opting out of sale and sharing"). `None` when there is none, or the node
/// predates delegation.
async fn delegated_opt_out_ms(
    node: &mut NodeConnection,
    person: &consent_proto::ids::FeedId,
    collector: &consent_proto::ids::FeedId,
) -> anyhow::Result<Option<u64>> {
    let facts = match delegated::Facts::read(node, person).await {
        Ok(f) => f,
        Err(e)
            if e.downcast_ref::<ClientError>().is_some_and(|c| {
                matches!(
                    c,
                    ClientError::Refused {
                        code: tonic::Code::Unimplemented,
                        ..
                    }
                )
            }) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut latest: Option<u64> = None;
    for d in &facts.signed {
        let Body::Request(r) = &d.entry.body else {
            continue;
        };
        if r.kind != RequestKind::OptOutSale || r.collector != *collector || r.on_behalf.is_none() {
            continue;
        }
        let counts = delegated::delegation_named(&d.entry)
            .and_then(|id| facts.delegations.get(&id))
            .is_some_and(|rec| rec.state().withdrawal_counts(d.entry.time_ms));
        // What a frozen delegate feed signed does not count (the spec's `counts`): no floor.
        if counts
            && latest.is_none_or(|l| l < d.entry.time_ms)
            && !node.head(&d.entry.feed).await?.is_some_and(|h| h.frozen)
        {
            latest = Some(d.entry.time_ms);
        }
    }
    Ok(latest)
}

/// What the wallet's privacy setting does to this grant, for the person about to confirm
/// (`None` when it signs exact times and sends at once).
fn privacy_note(s: &consent_client::privacy::Settings) -> Option<String> {
    let d = |ms: u64| humantime::format_duration(std::time::Duration::from_millis(ms));
    let coarse = s.coarse_ms.map(|c| {
        format!(
            "its times are rounded to {} and it is in force from the next multiple of {} after \
             it is sent",
            d(c),
            d(c)
        )
    });
    let spread = s.spread_ms.map(|w| {
        format!(
            "it is queued and sent at a random moment within {}, by the first consent command \
             that runs then (nothing sends it unless one runs: run `consent queue` from a timer, \
             see README, Privacy)",
            d(w)
        )
    });
    let said: Vec<String> = coarse.into_iter().chain(spread).collect();
    if said.is_empty() {
        return None;
    }
    Some(format!(
        "  To keep your feeds unlinkable, {}. It is not in force before then; `consent --now \
         grant ...` signs exact times and sends at once (a collector can check at once, but the \
         time can link this feed to your others).",
        said.join("; ")
    ))
}

/// Refuses purposes, categories or a retention the collector's `policy` does not declare;
/// returns the retention to grant (the policy's unless `--retention-days` says less).
fn within_policy(
    a: &GrantArgs,
    purposes: PurposeSet,
    categories: CategorySet,
    policy: &consent_proto::body::Policy,
) -> anyhow::Result<u32> {
    for p in purposes.iter() {
        if !policy.purposes.contains(p) {
            bail!(
                "purpose {p} is not in {}'s policy, which declares: {}",
                a.collector,
                policy
                    .purposes
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    for c in categories.iter() {
        if !policy.categories.contains(c) {
            bail!(
                "category {c} is not in {}'s policy, which declares: {}",
                a.collector,
                policy
                    .categories
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let retention = a.retention_days.unwrap_or(policy.retention_days);
    if retention == 0 || retention > policy.retention_days {
        bail!(
            "--retention-days must be 1..={} (the policy's retention)",
            policy.retention_days
        );
    }
    Ok(retention)
}

/// Shows the collector's policy and, in plain words, the consent about to be signed (on stderr).
pub fn show_grant(terms: &Grant, policy: &consent_proto::body::Policy, subject: &str) {
    eprintln!(
        "{}\n",
        describe::policy_text(&terms.collector, &terms.policy, policy)
    );
    eprintln!(
        "You are about to sign this consent (as {subject}):\n  {} may store {}\n  for {}\n  keeping it at most {} days\n  from now {}\n",
        policy.name,
        terms
            .categories
            .iter()
            .map(|c| c.plain())
            .collect::<Vec<_>>()
            .join(", "),
        terms
            .purposes
            .iter()
            .map(|p| p.plain())
            .collect::<Vec<_>>()
            .join(", "),
        terms.retention_days,
        terms
            .valid_until
            .map(|u| format!("until {}", time::format(u)))
            .unwrap_or_else(|| "until you revoke it".into())
    );
    match (&terms.scope, &policy.scope) {
        (Some(narrowing), scope) => {
            eprintln!("  and no more than this:");
            for line in describe::grant_scope_text(narrowing, scope.as_ref()) {
                eprintln!("    {line}");
            }
            if scope.is_none() && !narrowing.windows.is_empty() {
                eprintln!("    (this policy gives no offset: times are UTC)");
            }
            eprintln!();
        }
        (None, Some(_)) => eprintln!(
            "  wherever, whenever and in whatever form the policy above allows (narrow it with \
             --zone, --sensor, --sensor-kind, --days, --hours, --form)\n"
        ),
        (None, None) => {}
    }
}
