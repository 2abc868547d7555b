//! A guardian's child: `consent wallet init --child` (the child's own keystore, kept beside the
//! guardian's), the child's feed with a collector created on a guardian's first grant there
//! (its guardians' delegations at seq 1 and 2), the handover (`consent wallet export
//! --for-child`), and on the child's side `consent wallet takeover` and the one-time listing of
//! its guardians' grants at coming of age.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
use consent_client::delegate::offer;
use consent_client::keystore::{self, Child, Keystore, Minor};
use consent_client::node::NodeConnection;
use consent_client::{time, wallet};
use consent_proto::body::{Body, Delegation};
use consent_proto::delegation::coming_of_age_ms;
use consent_proto::entry::Author;
use consent_proto::ids::{FeedId, TypedFeedId};
use consent_proto::vocab::{DelegatedPower, DelegationKind, PowerSet, PurposeSet, Role};
use serde_json::json;

use crate::ctx::{self, Global, emit};
use crate::delegates::{self, Held, Person};

/// The child keystore's passphrase (else asked for).
const CHILD_PASSPHRASE: &str = "CONSENT_CHILD_PASSPHRASE";
/// The passphrase of the copy handed to the child (else asked for, twice).
const NEW_PASSPHRASE: &str = "CONSENT_NEW_PASSPHRASE";

/// `consent wallet init`'s options for a child's keystore.
#[derive(Args, Debug, Default)]
pub struct ChildArgs {
    /// Create a keystore for a child you are guardian of (its own secret and passphrase, from
    /// CONSENT_CHILD_PASSPHRASE or asked for), kept beside yours until you hand it over; your
    /// own wallet must exist. Until the child comes of age, you grant, revoke and request in its
    /// name (consent --as NAME ...), and the child's feeds cannot grant themselves.
    #[arg(long)]
    pub child: bool,
    /// The date the child comes of age (2034-05-01): guardians stop at UTC midnight of it.
    #[arg(long, value_name = "DATE", requires = "child")]
    pub comes_of_age: Option<String>,
    /// What you call the child (stays in your wallet; used with --as).
    #[arg(long, requires = "child")]
    pub name: Option<String>,
    /// The other guardian's code (from `consent wallet delegate-offer --name NAME`): each of the
    /// child's feeds names them too, and a grant counts only once the other guardian endorses it.
    #[arg(long, value_name = "CODE", requires = "child")]
    pub co_guardian: Option<String>,
}

/// `consent wallet export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Hand over this child's keystore (the name given at `wallet init --child`).
    #[arg(long = "for-child", value_name = "NAME")]
    pub child: String,
    /// Where to write it (a new file), under a new passphrase (CONSENT_NEW_PASSPHRASE, or asked
    /// for twice). Your wallet then forgets the child's keys.
    #[arg(long)]
    pub out: PathBuf,
}

/// Reads `--comes-of-age YYYY-MM-DD` as the coming-of-age instant (UTC midnight), Unix ms.
fn coming_of_age_arg(text: &str) -> anyhow::Result<u64> {
    let bad = || {
        anyhow::anyhow!(
            "--comes-of-age {text:?}: give the date the child comes of age, e.g. 2034-05-01"
        )
    };
    let mut parts = text.trim().splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let year: i32 = y.parse().map_err(|_| bad())?;
    let month: u8 = m.parse().map_err(|_| bad())?;
    let day: u8 = d.parse().map_err(|_| bad())?;
    coming_of_age_ms(year, month, day).ok_or_else(bad)
}

/// Where a child's keystore is kept: beside the guardian's, named after the child.
fn child_path(guardian: &Path, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    guardian
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(format!("child-{safe}.json"))
}

/// `consent wallet init --child`.
pub fn init(a: ChildArgs, g: &Global) -> anyhow::Result<()> {
    let name = delegates::label_arg(
        a.name
            .as_deref()
            .context("a child's wallet needs --name (what you call the child)")?,
    )?;
    let coa = coming_of_age_arg(
        a.comes_of_age
            .as_deref()
            .context("a child's wallet needs --comes-of-age DATE")?,
    )?;
    if coa <= time::now_ms() {
        bail!("--comes-of-age is not in the future: the child is of age and makes its own wallet");
    }
    let co_guardian = match &a.co_guardian {
        Some(code) => offer::decode(code).map_err(|e| anyhow::anyhow!("--co-guardian: {e}"))?,
        None => Vec::new(),
    };
    let mut ks = g.open(Role::Citizen)?;
    if ks.state.children.contains_key(&name) || ks.state.slots.values().any(|s| s.label == name) {
        bail!("this wallet already acts for someone named {name:?}: choose another --name");
    }
    let path = child_path(ks.path(), &name);
    if path.exists() {
        bail!("{} exists already: move it away first", path.display());
    }
    let pass = ctx::passphrase_from(
        CHILD_PASSPHRASE,
        &format!("New passphrase for {name}'s wallet: "),
        true,
    )?;
    let mut child = Keystore::create(&path, Role::Citizen, &pass, g.kdf_memory_kib, None)?;
    child.state.minor = Some(Minor {
        comes_of_age_ms: coa,
        listed: false,
    });
    child.save()?;
    ks.state.children.insert(
        name.clone(),
        Child {
            keystore: Some(path.clone()),
            comes_of_age_ms: coa,
            co_guardian: co_guardian
                .iter()
                .map(|f| f.typed(Role::Citizen).to_string())
                .collect(),
            co_guardian_used: 0,
        },
    );
    ks.save()?;
    let recovery = child.recovery_key();
    emit(
        g.json,
        format!(
            "{name}'s wallet created at {} (its own secret and passphrase), kept until you hand it \
             over with `consent wallet export --for-child {name:?} --out FILE`.\nYou act for \
             {name} until {} (consent --as {name:?} grant ...){}.\n\nRecovery key of {name}'s \
             wallet — keep it for {name}, offline; it is shown only once:\n\n    {}\n",
            path.display(),
            time::format(coa),
            if co_guardian.is_empty() {
                String::new()
            } else {
                format!(
                    "; each grant counts once the other guardian endorses it ({} of their ids)",
                    co_guardian.len()
                )
            },
            recovery.as_str()
        ),
        json!({
            "child": name,
            "keystore": path.display().to_string(),
            "comes_of_age": time::format(coa),
            "co_guardian_ids": co_guardian.len(),
            "recovery_key": recovery.as_str(),
        }),
    );
    Ok(())
}

/// Opens a child's keystore that a guardian keeps.
fn open_child(ks: &Keystore, name: &str) -> anyhow::Result<(Child, Keystore)> {
    let child = ks
        .state
        .children
        .get(name)
        .cloned()
        .with_context(|| format!("this wallet is guardian of no child named {name:?}"))?;
    let path = child.keystore.clone().with_context(|| {
        format!("{name}'s wallet was handed over: {name} holds its keys now, not this wallet")
    })?;
    let pass = ctx::passphrase_from(
        CHILD_PASSPHRASE,
        &format!("Passphrase for {name}'s wallet ({}): ", path.display()),
        false,
    )?;
    Ok((child, Keystore::open(&path, &pass)?))
}

/// Creates the child's feed with `collector` (a guardian's first grant there): its inception,
/// the guardian's delegation at seq 1 to a fresh delegate feed of this wallet, and with a
/// co-guardian theirs at seq 2, each naming the other as co-signer. Returns the guardian's.
pub async fn open_feed(
    node: &mut NodeConnection,
    ks: &mut Keystore,
    name: &str,
    collector: &FeedId,
    g: &Global,
) -> anyhow::Result<Held> {
    let (child, mut child_ks) = open_child(ks, name)?;
    let _queue = crate::outbox::hold_queue(&mut child_ks, false)?;
    let child_feed = wallet::pairwise_feed(child_ks.master(), collector);
    if node.head(&child_feed).await?.is_some() {
        bail!(
            "{name}'s feed with that collector exists already, and names none of your delegate \
             feeds as guardian"
        );
    }
    let co = match child.co_guardian.get(child.co_guardian_used) {
        Some(text) => Some(TypedFeedId::parse_role(text, Role::Citizen)?),
        None if child.co_guardian.is_empty() => None,
        None => bail!(
            "every id of the other guardian's code is used ({}); a feed with a new collector \
             needs another code from them",
            child.co_guardian.len()
        ),
    };
    let slot = delegates::new_slots(ks, name, 1)[0];
    let mine = delegates::slot_feed(ks, slot);
    if let Some(c) = ks.state.children.get_mut(name)
        && co.is_some()
    {
        c.co_guardian_used += 1;
    }
    ks.save()?;
    let now = time::now_ms();
    let guardian = |delegate: FeedId, co_signer: Option<FeedId>| Delegation {
        delegate,
        powers: [
            DelegatedPower::Grant,
            DelegatedPower::Revoke,
            DelegatedPower::Request,
        ]
        .into_iter()
        .collect::<PowerSet>(),
        collectors: vec![*collector],
        purposes: PurposeSet::EMPTY,
        valid_until: Some(child.comes_of_age_ms),
        kind: DelegationKind::Guardian,
        co_signer,
    };
    let mut author: Author = ctx::pairwise(node, &mut child_ks, collector).await?;
    let mut entries = vec![
        author
            .append(now, Body::Delegation(guardian(mine, co)))
            .map_err(anyhow::Error::msg)?,
    ];
    if let Some(other) = co {
        entries.push(
            author
                .append(now, Body::Delegation(guardian(other, Some(mine))))
                .map_err(anyhow::Error::msg)?,
        );
    }
    for e in &entries {
        ctx::journal(&mut child_ks, collector, e)?;
    }
    let batch: Vec<(&consent_proto::Entry, &str)> = entries
        .iter()
        .map(|e| (e, "guardian's delegation"))
        .collect();
    crate::send::submit_recorded(node, &child_ks, collector, &batch).await?;
    child_ks.save()?;
    if !g.json {
        eprintln!(
            "Created {name}'s feed with this collector ({}), naming you as guardian{} until {}.",
            child_feed.typed(Role::Citizen),
            if co.is_some() {
                " with the other guardian"
            } else {
                ""
            },
            time::format(child.comes_of_age_ms)
        );
    }
    let first = entries[0].id;
    delegates::held(node, ks, Some(&Person::Label(name.to_string())))
        .await?
        .into_iter()
        .find(|h| h.record.id == first)
        .context("the node does not list the delegation it just accepted")
}

/// `consent wallet export --for-child NAME --out FILE`: the handover.
pub fn export(a: ExportArgs, g: &Global) -> anyhow::Result<()> {
    let mut ks = g.open(Role::Citizen)?;
    let name = a.child.trim().to_string();
    let (_, child_ks) = open_child(&ks, &name)?;
    if a.out.exists() {
        bail!("{} exists already: choose another --out", a.out.display());
    }
    let pass = ctx::passphrase_from(
        NEW_PASSPHRASE,
        &format!("New passphrase for {name}'s own copy: "),
        true,
    )?;
    child_ks.export_to(&a.out, &pass, g.kdf_memory_kib)?;
    let kept = child_ks.path().to_path_buf();
    drop(child_ks);
    // This wallet forgets the child's keys.
    std::fs::remove_file(&kept).with_context(|| {
        format!(
            "wrote {}, but cannot remove {}",
            a.out.display(),
            kept.display()
        )
    })?;
    if let Some(c) = ks.state.children.get_mut(&name) {
        c.keystore = None;
    }
    ks.save()?;
    emit(
        g.json,
        format!(
            "{name}'s wallet written to {} under its new passphrase, and removed from here ({}). \
             {name} runs `consent --keystore {} wallet takeover` first: it moves every feed to \
             keys this machine never saw. You still act for {name} until coming of age.",
            a.out.display(),
            kept.display(),
            a.out.display()
        ),
        json!({"child": name, "keystore": a.out.display().to_string(), "forgotten": kept.display().to_string()}),
    );
    Ok(())
}

/// `consent wallet takeover` (the child, after the handover): every feed rotated twice, the
/// second time to keys of a fresh successor master secret, so that no key the guardian's machine
/// saw signs again; the new recovery key covers both secrets.
pub async fn takeover(g: &Global) -> anyhow::Result<()> {
    let mut ks = g.open(Role::Citizen)?;
    let _queue = crate::outbox::hold_queue(&mut ks, false)?;
    if ks.state.minor.is_none() {
        bail!(
            "takeover is for a wallet a guardian handed over (made with `wallet init --child`); \
             to move to new keys, use `consent wallet rotate`"
        );
    }
    let mut node = g.connect().await?;
    if ks.successor().is_none() {
        ks.set_successor(keystore::fresh_master()?);
        ks.save()?;
    }
    let successor = *ks
        .successor()
        .context("the successor secret was just set")?;
    let master = *ks.master();
    let collectors: Vec<String> = ks.state.pairwise.keys().cloned().collect();
    let mut moved = Vec::new();
    for c in collectors {
        if ks
            .state
            .pairwise
            .get(&c)
            .is_some_and(|f| f.successor_from.is_some())
        {
            continue;
        }
        let collector = TypedFeedId::parse_role(&c, Role::Collector)?;
        let mut author = ctx::pairwise(&mut node, &mut ks, &collector).await?;
        let r = ks.state.pairwise.get(&c).map_or(0, |f| f.rotations);
        let succ = |n| wallet::pairwise_key(&successor, &collector, n);
        // A takeover cut short after its first rotation: that rotation committed to the
        // successor's key 0 already.
        let half_done = node
            .feed(&author.feed())
            .await?
            .last()
            .is_some_and(|e| match &e.body {
                Body::Rotation(rot) => rot.next_key_digest == succ(0).public().next_key_digest(),
                _ => false,
            });
        let mut entries = Vec::new();
        if half_done {
            author = Author::resume(
                Role::Citizen,
                wallet::pairwise_key(&master, &collector, r),
                succ(0),
                author.feed(),
                author.seq(),
                author.head(),
            );
        } else {
            entries.push(
                author
                    .rotate(time::now_ms(), succ(0))
                    .map_err(anyhow::Error::msg)?,
            );
        }
        entries.push(
            author
                .rotate(time::now_ms(), succ(1))
                .map_err(anyhow::Error::msg)?,
        );
        for e in &entries {
            ctx::journal(&mut ks, &collector, e)?;
        }
        let batch: Vec<(&consent_proto::Entry, &str)> =
            entries.iter().map(|e| (e, "rotation")).collect();
        crate::send::submit_recorded(&mut node, &ks, &collector, &batch).await?;
        let state = ks.state.pairwise.entry(c.clone()).or_default();
        // The first master's keys 0..=r+1 were used (r + 1 signed the first rotation).
        state.successor_from = Some(if half_done { r } else { r + 1 });
        state.rotations = 0;
        ks.save()?;
        moved.push(author.feed().typed(Role::Citizen).to_string());
    }
    let recovery = ks.recovery_key();
    emit(
        g.json,
        format!(
            "Took over {} feed(s): each is signed now by keys only this wallet holds: {}\n\nNew \
             recovery key — it replaces the one you were given; write it down, keep it offline; \
             it is shown only once:\n\n    {}\n",
            moved.len(),
            moved.join(", "),
            recovery.as_str()
        ),
        json!({"rotated": moved, "recovery_key": recovery.as_str()}),
    );
    Ok(())
}

/// Refuses a grant of a minor's own wallet before it comes of age, as a node would
/// (`minor-feed`).
pub fn refuse_minor_grant(ks: &Keystore, now: u64) -> anyhow::Result<()> {
    if let Some(m) = &ks.state.minor
        && now < m.comes_of_age_ms
    {
        bail!(
            "refused here, as a node would refuse it: this wallet's feeds are a minor's until {}; \
             your guardians grant in your name until then (minor-feed)",
            time::format(m.comes_of_age_ms)
        );
    }
    Ok(())
}

/// At the first use on or after coming of age: lists, once, on stderr, every grant the
/// guardians made in this wallet's name that is still in force.
pub async fn coming_of_age_notice(
    node: &mut NodeConnection,
    ks: &mut Keystore,
) -> anyhow::Result<()> {
    let now = time::now_ms();
    let Some(minor) = ks.state.minor.clone() else {
        return Ok(());
    };
    if minor.listed || now < minor.comes_of_age_ms {
        return Ok(());
    }
    let mut lines = Vec::new();
    let collectors: Vec<String> = ks.state.pairwise.keys().cloned().collect();
    for c in collectors {
        let collector = TypedFeedId::parse_role(&c, Role::Collector)?;
        let feed = wallet::pairwise_feed(ks.master(), &collector);
        for grant in super::delegated::in_force(node, &feed, now).await? {
            if grant.kind == DelegationKind::Guardian {
                lines.push(format!(
                    "  {} to {c}, made by a guardian on {} (revoke it: consent revoke {})",
                    grant.id,
                    time::format(grant.time_ms),
                    grant.id
                ));
            }
        }
    }
    if !lines.is_empty() {
        eprintln!(
            "You came of age on {}. Your guardians made these grants in your name, still in force \
             (shown once):\n{}",
            time::format(minor.comes_of_age_ms),
            lines.join("\n")
        );
    }
    if let Some(m) = ks.state.minor.as_mut() {
        m.listed = true;
    }
    ks.save()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coming_of_age_date_is_its_utc_midnight() {
        assert_eq!(
            coming_of_age_arg("2034-05-01").ok(),
            coming_of_age_ms(2034, 5, 1)
        );
        assert_eq!(
            coming_of_age_arg("2034-05-01").map(time::format).ok(),
            Some("2034-05-01T00:00:00Z".to_string())
        );
        assert!(coming_of_age_arg("2034-13-01").is_err());
        assert!(coming_of_age_arg("1 May 2034").is_err());
    }

    #[test]
    fn a_childs_keystore_sits_beside_the_guardians() {
        assert_eq!(
            child_path(Path::new("/home/ana/ks.json"), "Lea b."),
            PathBuf::from("/home/ana/child-Lea_b_.json")
        );
    }
}
