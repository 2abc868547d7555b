//! `consent --as PERSON grant | revoke | request | endorse`: statements signed in the wallet's
//! own delegate feed, in a represented person's name (`on_behalf`), inside a delegation that
//! person gave. The delegation is found on the node (`ListDelegations` of the wallet's delegate
//! feeds); what it does not allow is refused here, before anything is signed, with the reason a
//! node would give.

use anyhow::{Context as _, bail};
use clap::Args;
use consent_client::delegate::permits::Act;
use consent_client::time;
use consent_proto::body::{Body, Endorsement, Grant, OnBehalf, Request, Revoke};
use consent_proto::ids::FeedId;
use consent_proto::vocab::{DelegationKind, RequestKind, Role};
use serde_json::json;

use super::citizen::{GrantArgs, RequestArgs, RevokeArgs};
use crate::ctx::{self, Global, emit, entry_arg, feed_arg};
use crate::delegates::{self, Held, Person};

/// `consent --as PERSON endorse`.
#[derive(Args, Debug)]
pub struct EndorseArgs {
    /// The other guardian's grant (ent1...) to endorse: a grant under a delegation that names
    /// your delegate feed as co-signer counts only once you endorse it.
    pub grant: String,
}

/// The person's subject id and the delegation, for output.
fn delegation_json(h: &Held) -> serde_json::Value {
    json!({
        "person": h.record.person.typed(Role::Citizen).to_string(),
        "delegation": h.record.id.to_string(),
        "delegate": delegates_feed_text(h),
        "kind": h.record.delegation.kind.name(),
    })
}

fn delegates_feed_text(h: &Held) -> String {
    h.record
        .delegation
        .delegate
        .typed(Role::Citizen)
        .to_string()
}

/// `consent --as PERSON grant`.
pub async fn grant(a: &GrantArgs, who: &str, g: &Global) -> anyhow::Result<()> {
    if a.replace {
        bail!(
            "--replace is for your own grants; in someone else's name, revoke the older grant \
             with `consent --as {who} revoke GRANT`"
        );
    }
    let mut ks = g.open(Role::Citizen)?;
    let person = delegates::person(&ks, who)?;
    let mut node = g.connect().await?;
    let now = time::now_ms();
    let terms = super::citizen::terms(a, &mut node, now).await?;
    let collector = terms.grant.collector;
    let act = Act::Grant {
        collector,
        purposes: terms.grant.purposes,
    };
    let mut held = delegates::held(&mut node, &ks, Some(&person)).await?;
    // A guardian's first grant to a collector for a child: the child's feed there is created
    // first, with the guardians' delegations.
    if let Person::Label(name) = &person
        && ks.state.children.contains_key(name)
        && !held.iter().any(|h| covers(h, &collector))
    {
        let made = super::child::open_feed(&mut node, &mut ks, name, &collector, g).await?;
        held.push(made);
    }
    // Judged now: a child's feed just created holds a delegation signed after `now`.
    let h = delegates::choose(&held, &act, time::now_ms(), &person)?.clone();
    let subject = h.record.person.typed(Role::Citizen).to_string();
    if !g.json || !a.yes {
        super::citizen::show_grant(&terms.grant, &terms.policy, &subject);
        eprintln!(
            "  in the name of {person}, under their delegation {} ({})\n",
            h.record.id,
            h.record.delegation.kind.name()
        );
    }
    if !a.yes && !ctx::confirm("Sign and submit in their name?")? {
        bail!("nothing was signed");
    }
    // From here until it is sent, no other command signs in the wallet's feeds (the keystore is
    // read again: what the prompt's wait let another command save is kept).
    let _queue = crate::outbox::hold_queue(&mut ks, false)?;
    // Signed now (a node takes a delegated entry only if signed within minutes of its clock).
    let signed_at = time::now_ms();
    delegates::choose(std::slice::from_ref(&h), &act, signed_at, &person)?;
    let grant = in_their_name(terms.grant, h.on_behalf(), signed_at)?;
    let entry = delegates::sign_in_slot(
        &mut node,
        &mut ks,
        h.slot,
        false,
        signed_at,
        Body::Grant(grant),
        "grant",
    )
    .await?;
    let co_signer = h.record.delegation.co_signer;
    let mut human = format!(
        "Granted in the name of {person}. Grant id: {}\nTheir subject id for this collector: \
         {subject}\nUnder their delegation {} ({})",
        entry.id,
        h.record.id,
        h.record.delegation.kind.name()
    );
    if co_signer.is_some() {
        human.push_str(&format!(
            "\nIt counts once the other guardian endorses it: consent --as {who} endorse {}",
            entry.id
        ));
    }
    let mut value = delegation_json(&h);
    value["grant"] = json!(entry.id.to_string());
    value["subject"] = json!(subject);
    value["collector"] = json!(a.collector);
    value["policy"] = json!(terms.policy_id.to_string());
    value["needs_endorsement"] = json!(co_signer.is_some());
    emit(g.json, human, value);
    Ok(())
}

/// The grant to sign at `signed_at` in someone's name from the `terms` read before the
/// confirmation: exact, like its signed time (the spec, "Signed times of citizen entries": sent at
/// once, its `valid_from` is the moment of signing, never the earlier moment the terms were read,
/// so that a consent is never in force before it was given; its `valid_until` is the end asked).
fn in_their_name(terms: Grant, on_behalf: OnBehalf, signed_at: u64) -> anyhow::Result<Grant> {
    if terms.valid_until.is_some_and(|u| u <= signed_at) {
        bail!("--until has passed while you confirmed: nothing was signed; choose a later end");
    }
    Ok(Grant {
        valid_from: signed_at,
        on_behalf: Some(on_behalf),
        ..terms
    })
}

/// Whether `h` may cover grants to `collector` (it lists none, or that one).
fn covers(h: &Held, collector: &FeedId) -> bool {
    let c = &h.record.delegation.collectors;
    c.is_empty() || c.contains(collector)
}

/// `consent --as PERSON revoke`: a grant of the person's, or one a delegate made in their name.
pub async fn revoke(a: &RevokeArgs, who: &str, g: &Global) -> anyhow::Result<()> {
    let Some(grant_text) = a.grant.as_deref() else {
        bail!(
            "--all revokes your own grants; in someone else's name, revoke one grant at a time: \
             consent --as {who} revoke GRANT"
        );
    };
    let grant_id = entry_arg("<grant-id>", grant_text)?;
    let mut ks = g.open(Role::Citizen)?;
    let _queue = crate::outbox::hold_queue(&mut ks, true)?;
    let person = delegates::person(&ks, who)?;
    let mut node = g.connect().await?;
    let grant = node
        .entry(&grant_id)
        .await?
        .with_context(|| format!("the node knows no entry {}", grant_text))?;
    let Body::Grant(gr) = &grant.body else {
        bail!("{} is not a grant", grant_text)
    };
    // Whose grant it is: the feed's own, or the person a delegate signed it for.
    let owner = gr.on_behalf.as_ref().map_or(grant.feed, |o| o.person);
    let held: Vec<Held> = delegates::held(&mut node, &ks, Some(&person))
        .await?
        .into_iter()
        .filter(|h| h.record.person == owner)
        .collect();
    if held.is_empty() {
        bail!(
            "grant {} is not in the name of anyone you act for as {person}: you hold no \
             delegation from {}",
            grant_text,
            owner.typed(Role::Citizen)
        );
    }
    let act = Act::Revoke {
        collector: gr.collector,
    };
    let signed_at = time::now_ms();
    let h = delegates::choose(&held, &act, signed_at, &person)?.clone();
    let entry = delegates::sign_in_slot(
        &mut node,
        &mut ks,
        h.slot,
        true,
        signed_at,
        Body::Revoke(Revoke {
            grant: grant_id,
            erase: a.erase,
            on_behalf: Some(h.on_behalf()),
        }),
        "revocation",
    )
    .await?;
    let mut value = delegation_json(&h);
    value["revocation"] = json!(entry.id.to_string());
    value["grant"] = json!(grant_text);
    value["erase"] = json!(a.erase);
    emit(
        g.json,
        format!(
            "Revoked grant {} in the name of {person}{}. Revocation id: {}",
            grant_text,
            if a.erase {
                " and asked for erasure"
            } else {
                ""
            },
            entry.id
        ),
        value,
    );
    Ok(())
}

/// `consent --as PERSON request`.
pub async fn request(a: &RequestArgs, who: &str, g: &Global) -> anyhow::Result<()> {
    let collector = feed_arg("<collector>", &a.collector, Role::Collector)?;
    let kind = RequestKind::from_name(&a.kind)?;
    let mut ks = g.open(Role::Citizen)?;
    // An opt-out, an erasure or restriction request is a withdrawal: it waits longer for the
    // queue, and held entries of its feed do not stop it.
    let withdrawal = matches!(
        kind,
        RequestKind::OptOutSale | RequestKind::Erasure | RequestKind::Restriction
    );
    let _queue = crate::outbox::hold_queue(&mut ks, withdrawal)?;
    let person = delegates::person(&ks, who)?;
    let mut node = g.connect().await?;
    let held = delegates::held(&mut node, &ks, Some(&person)).await?;
    let signed_at = time::now_ms();
    let h = delegates::choose(&held, &Act::Request { collector }, signed_at, &person)?.clone();
    let entry = delegates::sign_in_slot(
        &mut node,
        &mut ks,
        h.slot,
        withdrawal,
        signed_at,
        Body::Request(Request {
            collector,
            kind,
            details_digest: None,
            on_behalf: Some(h.on_behalf()),
        }),
        "request",
    )
    .await?;
    let mut value = delegation_json(&h);
    value["request"] = json!(entry.id.to_string());
    value["collector"] = json!(a.collector);
    value["kind"] = json!(kind.name());
    emit(
        g.json,
        format!(
            "Asked {} for {} in the name of {person}. Request id: {}",
            a.collector,
            kind.plain(),
            entry.id
        ),
        value,
    );
    Ok(())
}

/// `consent --as PERSON endorse GRANT`: the co-guardian's half of a 2-of-2 grant.
pub async fn endorse(a: EndorseArgs, g: &Global) -> anyhow::Result<()> {
    let who = g
        .as_person
        .as_deref()
        .context("endorse acts in a child's name: consent --as NAME endorse GRANT")?;
    let grant_id = entry_arg("<grant>", &a.grant)?;
    let mut ks = g.open(Role::Citizen)?;
    let _queue = crate::outbox::hold_queue(&mut ks, false)?;
    let person = delegates::person(&ks, who)?;
    let mut node = g.connect().await?;
    let grant = node
        .entry(&grant_id)
        .await?
        .with_context(|| format!("the node knows no entry {}", a.grant))?;
    let not_endorsable = || {
        anyhow::anyhow!(
            "{} is not a grant a guardian made in someone's name: only those are endorsed",
            a.grant
        )
    };
    let Body::Grant(gr) = &grant.body else {
        return Err(not_endorsable());
    };
    let ob = gr.on_behalf.ok_or_else(not_endorsable)?;
    // The delegation the grant rests on must name one of this wallet's delegate feeds as its
    // co-signer (else the node refuses: not-endorsable).
    let theirs = node
        .list_delegations(&ob.person)
        .await?
        .into_iter()
        .find(|d| d.id == ob.delegation)
        .with_context(|| {
            format!(
                "the node does not list the delegation {} that grant rests on",
                ob.delegation
            )
        })?;
    let co_signer = theirs.delegation.co_signer;
    let held: Vec<Held> = delegates::held(&mut node, &ks, Some(&person))
        .await?
        .into_iter()
        .filter(|h| h.record.person == ob.person && Some(h.record.delegation.delegate) == co_signer)
        .collect();
    if held.is_empty() {
        bail!(
            "refused here, as a node would refuse it: that grant's delegation does not name a \
             delegate feed of yours (as {person}) as its co-signer (not-endorsable)"
        );
    }
    let signed_at = time::now_ms();
    let act = Act::Endorse {
        collector: gr.collector,
        purposes: gr.purposes,
    };
    let h = delegates::choose(&held, &act, signed_at, &person)?.clone();
    if h.record.delegation.kind != DelegationKind::Guardian {
        bail!("only a guardian endorses a grant, and your delegation from {person} is not one");
    }
    let entry = delegates::sign_in_slot(
        &mut node,
        &mut ks,
        h.slot,
        false,
        signed_at,
        Body::Endorsement(Endorsement {
            grant: grant_id,
            on_behalf: h.on_behalf(),
        }),
        "endorsement",
    )
    .await?;
    let mut value = delegation_json(&h);
    value["endorsement"] = json!(entry.id.to_string());
    value["grant"] = json!(a.grant);
    emit(
        g.json,
        format!(
            "Endorsed grant {} in the name of {person}: it counts now. Endorsement id: {}",
            a.grant, entry.id
        ),
        value,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_proto::ids::EntryId;
    use consent_proto::vocab::{CategorySet, DataCategory, Purpose, PurposeSet};

    fn terms(read_at: u64, until: Option<u64>) -> Grant {
        Grant {
            collector: FeedId([1; 32]),
            policy: EntryId([2; 32]),
            purposes: [Purpose::ServiceProvision]
                .into_iter()
                .collect::<PurposeSet>(),
            categories: [DataCategory::Location]
                .into_iter()
                .collect::<CategorySet>(),
            retention_days: 30,
            valid_from: read_at,
            valid_until: until,
            scope: None,
            on_behalf: None,
        }
    }

    #[test]
    fn a_grant_in_someones_name_is_in_force_from_its_signing_never_before() {
        let read_at = 1_772_446_051_123;
        // The person took 40 seconds to confirm.
        let signed_at = read_at + 40_000;
        let on_behalf = OnBehalf {
            person: FeedId([3; 32]),
            delegation: EntryId([4; 32]),
        };
        let until = read_at + 90 * 86_400_000;
        let g = in_their_name(terms(read_at, Some(until)), on_behalf, signed_at).expect("signs");
        assert_eq!(g.valid_from, signed_at, "not from when the terms were read");
        assert_eq!(g.valid_until, Some(until), "the end as asked: exact");
        assert_eq!(g.on_behalf, Some(on_behalf));
        // An end the confirmation outlasted: nothing is signed.
        let soon = read_at + 10_000;
        assert!(in_their_name(terms(read_at, Some(soon)), on_behalf, signed_at).is_err());
        assert!(in_their_name(terms(read_at, Some(signed_at)), on_behalf, signed_at).is_err());
    }
}
