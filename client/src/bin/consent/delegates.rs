//! The wallet as a delegate: its delegate feeds (slots, `consent_client::delegate`), whom each
//! acts for, and the delegations they hold as the node lists them; which one lets it sign a
//! statement, refused here with the reason a node would give.

use anyhow::{Context as _, bail};
use consent_client::delegate::{self, permits};
use consent_client::keystore::{Keystore, Slot};
use consent_client::node::{DelegationRecord, NodeConnection};
use consent_proto::Entry;
use consent_proto::body::OnBehalf;
use consent_proto::entry::Author;
use consent_proto::ids::{EntryId, FeedId, TypedFeedId};
use consent_proto::vocab::Role;

use crate::ctx;

/// Longest name for a person or a child (`--name`).
const MAX_LABEL: usize = 40;

/// Checks a name given with `--name`: 1 to 40 letters, digits, spaces, `-`, `_` or `.`; it is
/// never written to the ledger.
pub fn label_arg(text: &str) -> anyhow::Result<String> {
    let t = text.trim();
    let fits = !t.is_empty()
        && t.chars().count() <= MAX_LABEL
        && t.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'));
    if !fits {
        bail!(
            "--name {text:?}: use 1 to {MAX_LABEL} letters, digits, spaces, '-', '_' or '.' (it stays in your wallet)"
        );
    }
    Ok(t.to_string())
}

/// Reserves `n` fresh slots for `label`: the next numbers after every slot the wallet ever used.
pub fn new_slots(ks: &mut Keystore, label: &str, n: usize) -> Vec<u32> {
    let first = ks
        .state
        .slots
        .keys()
        .next_back()
        .map_or(0, |last| last.saturating_add(1));
    let slots: Vec<u32> = (first..).take(n).collect();
    for s in &slots {
        ks.state.slots.insert(
            *s,
            Slot {
                label: label.to_string(),
                ..Slot::default()
            },
        );
    }
    slots
}

/// The feed id of slot `slot`.
pub fn slot_feed(ks: &Keystore, slot: u32) -> FeedId {
    delegate::slot_feed(ks.master(), slot)
}

/// How the send queue names what it holds of slot `slot`'s feed.
pub fn slot_label(slot: u32) -> String {
    format!("delegate feed #{slot}")
}

/// Loads slot `slot`'s feed at its head on the node, submitting its inception first when the
/// node does not know it yet (a delegation may name a delegate feed before it exists). As for a
/// pairwise feed (`send::before_signing`): entries of it still queued (one a node held pending)
/// go first, and a node that lags what this wallet had sent is given it, or refused: signing at
/// its head would fork the feed (re-review M6). A `withdrawal` is not stopped by held entries.
/// The caller holds the send queue (`outbox::hold_queue`).
pub async fn slot_author(
    node: &mut NodeConnection,
    ks: &mut Keystore,
    slot: u32,
    withdrawal: bool,
) -> anyhow::Result<Author> {
    let master = *ks.master();
    let (_, inception) = delegate::slot_inception(&master, slot).map_err(anyhow::Error::msg)?;
    crate::send::before_signing_feed(node, ks, &inception.feed, &inception, withdrawal).await?;
    let recorded = ks.state.slots.get(&slot).map_or(0, |s| s.rotations);
    let head = match node.head(&inception.feed).await? {
        Some(h) => h,
        None => {
            journal_slot(ks, slot, &inception)?;
            crate::send::submit_recorded_as(
                node,
                ks,
                &slot_label(slot),
                &[(&inception, "delegate feed inception")],
            )
            .await?;
            node.head(&inception.feed)
                .await?
                .context("the node lost the inception it just accepted")?
        }
    };
    let rotations = ctx::current_rotation(&head.signing_key, recorded, |n| {
        delegate::slot_key(&master, slot, n).public().to_bytes()
    })
    .context("this wallet does not hold the current key of its delegate feed")?;
    if let Some(s) = ks.state.slots.get_mut(&slot) {
        s.rotations = rotations;
    }
    let head_id = EntryId::from_slice(&head.head).context("the node sent a malformed head")?;
    Ok(delegate::slot_author(
        &master, slot, rotations, head.seq, head_id,
    ))
}

/// Signs `body` at `time_ms` in slot `slot`'s feed ([`slot_author`]; a `withdrawal` is not
/// stopped by held entries), journals it and sends it now, recorded (`send::submit_recorded_as`,
/// `what` naming it in messages). The caller holds the send queue.
pub async fn sign_in_slot(
    node: &mut NodeConnection,
    ks: &mut Keystore,
    slot: u32,
    withdrawal: bool,
    time_ms: u64,
    body: consent_proto::body::Body,
    what: &str,
) -> anyhow::Result<Entry> {
    let mut author = slot_author(node, ks, slot, withdrawal).await?;
    let entry = author.append(time_ms, body).map_err(anyhow::Error::msg)?;
    journal_slot(ks, slot, &entry)?;
    crate::send::submit_recorded_as(node, ks, &slot_label(slot), &[(&entry, what)]).await?;
    Ok(entry)
}

/// Records, before it is submitted, that this keystore signed `entry` in slot `slot`'s feed.
pub fn journal_slot(ks: &mut Keystore, slot: u32, entry: &Entry) -> anyhow::Result<()> {
    ks.state
        .slots
        .entry(slot)
        .or_default()
        .signed
        .push(entry.id.to_string());
    Ok(ks.save()?)
}

/// Whom `--as` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Person {
    /// A person's feed id: any of the wallet's delegate feeds may hold a delegation from it.
    Feed(FeedId),
    /// A name: the slots reserved under it (and, for a child, the child's keystore).
    Label(String),
}

impl std::fmt::Display for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Person::Feed(id) => write!(f, "{}", id.typed(Role::Citizen)),
            Person::Label(l) => f.write_str(l),
        }
    }
}

/// Reads `--as`: a citizen feed id, or a name this wallet knows (a slot's or a child's).
pub fn person(ks: &Keystore, text: &str) -> anyhow::Result<Person> {
    if let Ok(feed) = TypedFeedId::parse_role(text.trim(), Role::Citizen) {
        return Ok(Person::Feed(feed));
    }
    let name = text.trim();
    let known =
        ks.state.slots.values().any(|s| s.label == name) || ks.state.children.contains_key(name);
    if !known {
        bail!(
            "--as {text:?}: this wallet acts for nobody by that name; give the name used with \
             `consent wallet delegate-offer --name` or `consent wallet init --child --name`, or \
             the person's feed id (cit1...)"
        );
    }
    Ok(Person::Label(name.to_string()))
}

/// A delegation one of this wallet's delegate feeds holds.
#[derive(Debug, Clone)]
pub struct Held {
    /// The slot whose feed it names.
    pub slot: u32,
    /// The name the slot was reserved under.
    pub label: String,
    /// The delegation, as the node lists it.
    pub record: DelegationRecord,
}

impl Held {
    /// What a statement signed under it names.
    pub fn on_behalf(&self) -> OnBehalf {
        OnBehalf {
            person: self.record.person,
            delegation: self.record.id,
        }
    }
}

/// The delegations the node lists for the slots `person` may use (all slots for a feed id),
/// each naming that slot's feed as delegate (and, for a feed id, given by that feed).
pub async fn held(
    node: &mut NodeConnection,
    ks: &Keystore,
    person: Option<&Person>,
) -> anyhow::Result<Vec<Held>> {
    let slots: Vec<(u32, String)> = ks
        .state
        .slots
        .iter()
        .filter(|(_, s)| match person {
            Some(Person::Label(l)) => s.label == *l,
            _ => true,
        })
        .map(|(n, s)| (*n, s.label.clone()))
        .collect();
    let mut out = Vec::new();
    for (slot, label) in slots {
        let feed = slot_feed(ks, slot);
        for record in node.list_delegations(&feed).await? {
            let from_person = match person {
                Some(Person::Feed(f)) => record.person == *f,
                _ => true,
            };
            if record.delegation.delegate == feed && from_person {
                out.push(Held {
                    slot,
                    label: label.clone(),
                    record,
                });
            }
        }
    }
    Ok(out)
}

/// The first of `held` that lets this wallet sign `act` at `at_ms`; else the refusal a node
/// would give, from the delegation closest to allowing it.
pub fn choose<'a>(
    held: &'a [Held],
    act: &permits::Act,
    at_ms: u64,
    who: &Person,
) -> anyhow::Result<&'a Held> {
    let mut best: Option<permits::Refusal> = None;
    for h in held {
        let r = &h.record;
        match permits::permits(&r.delegation, r.time_ms, r.ended_from, act, at_ms) {
            Ok(()) => return Ok(h),
            Err(refusal) => {
                let better = match &best {
                    None => true,
                    // Another collector's delegation says least about this one.
                    Some(b) => b.code == "collector-not-delegated",
                };
                if better {
                    best = Some(refusal);
                }
            }
        }
    }
    match best {
        Some(r) => bail!(
            "refused here, as a node would refuse it: {r}; nothing was signed (`consent wallet \
             delegations` shows what you hold from {who})"
        ),
        None => bail!(
            "you hold no delegation from {who}{}: ask them to run `consent wallet delegate --to \
             CODE` with a code from `consent wallet delegate-offer --name NAME`",
            if matches!(who, Person::Feed(_)) {
                ""
            } else {
                " (none of your delegate feeds reserved under that name is named by one yet)"
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_plain_words() {
        assert_eq!(label_arg(" Mum ").expect("fine"), "Mum");
        assert_eq!(label_arg("Lea-2.b").expect("fine"), "Lea-2.b");
        assert!(label_arg("").is_err());
        assert!(label_arg("a;rm -rf").is_err());
        assert!(label_arg(&"x".repeat(41)).is_err());
    }
}
