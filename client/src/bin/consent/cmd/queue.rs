//! `consent queue`: what the wallet's send queue holds (entries signed and sent later, each feed
//! at its own moment, so that your feeds cannot be linked by when they reach the network), and
//! sending them: what is due (one feed per run besides withdrawals, the most overdue first), or
//! everything now. It also shows what needs the person: entries held because they conflict with
//! what a node holds (never sent: `--drop`), and entries a node refused (`--ack`); while either
//! is there it exits 1, so that a timer's log says so.

use anyhow::bail;
use clap::Args;
use consent_client::privacy::queue::{self, QueueLock};
use consent_client::time;
use consent_proto::ids::EntryId;
use consent_proto::vocab::Role;
use serde_json::json;

use crate::ctx::{self, Global, emit, entry_arg};
use crate::send::{self, Nodes, Pick};

/// `consent queue`.
#[derive(Args, Debug)]
pub struct QueueArgs {
    /// Send every queued entry now, whatever its moment. A grant is then in force at once (from
    /// its valid_from), but entries sent together can be linked by their arrival.
    #[arg(long)]
    pub send_now: bool,
    /// Drop a queued or held entry (ent1...) and the entries of its feed queued after it (they
    /// chain on it), without sending them: nothing of them becomes public. For entries held
    /// because another device (or a restored copy of this wallet) signed in their feed; sign
    /// again what you still mean. A queued entry already handed to a node (it answered pending,
    /// or its answer was lost) is not dropped: that node may still take it in; revoke it instead.
    #[arg(long, value_name = "ENTRY", conflicts_with = "send_now")]
    pub drop: Option<String>,
    /// Acknowledge the refusals shown (they are forgotten; what was refused is not in effect:
    /// sign it again if you still mean it).
    #[arg(long)]
    pub ack: bool,
}

pub async fn queue(a: QueueArgs, g: &Global) -> anyhow::Result<()> {
    let mut ks = g.open(Role::Citizen)?;
    let path = queue::path_for(ks.path());
    if let Some(text) = &a.drop {
        let id = entry_arg("--drop", text)?;
        drop_entry(&mut ks, &id, g)?;
    }
    if a.ack && path.exists() {
        let _lock = QueueLock::take(&path)?;
        let mut q = queue::load(&path, ks.master())?;
        q.refused.clear();
        queue::save(&path, ks.master(), &q)?;
    }
    if path.exists() && a.drop.is_none() {
        let mut nodes = Nodes::new(&g.node, g.tls()?, None);
        let pick = if a.send_now {
            Pick::All
        } else {
            Pick::Due(time::now_ms())
        };
        let flushed = send::send_queued(&ks, &mut nodes, pick).await?;
        send::report(&flushed, &[]);
    }
    let left = send::queued(&ks)?;
    let held = send::held(&ks)?;
    let refused = send::refusals(&ks)?;
    if left.is_empty() && held.is_empty() && refused.is_empty() {
        emit(
            g.json,
            "The send queue is empty: everything this wallet signed has been sent.",
            json!({"queued": 0}),
        );
        return Ok(());
    }
    for (e, item) in &left {
        let value = json!({
            "entry": e.id.to_string(),
            "what": item.what,
            "collector": item.collector,
            "subject": e.feed.typed(Role::Citizen).to_string(),
            "due": time::format(item.due_ms),
            "node": item.node,
        });
        let note = match item.what.as_str() {
            "grant" => " — not in force until it is sent",
            "revocation" => " — the grant it revokes stays in force until it is sent",
            _ => "",
        };
        emit(
            g.json,
            format!(
                "queued, sent {}: {} {} (collector {}, via {}){note}",
                send::when(item.due_ms),
                item.what,
                e.id,
                item.collector,
                item.node,
            ),
            value,
        );
    }
    for (e, item) in &held {
        let why = item.held.clone().unwrap_or_default();
        emit(
            g.json,
            format!(
                "HELD, never sent: {} {} (collector {}): {why}; drop it: consent queue --drop {}",
                item.what, e.id, item.collector, e.id
            ),
            json!({
                "entry": e.id.to_string(),
                "what": item.what,
                "collector": item.collector,
                "subject": e.feed.typed(Role::Citizen).to_string(),
                "held": why,
            }),
        );
    }
    for r in &refused {
        emit(
            g.json,
            format!(
                "REFUSED, not in effect: {} {} (collector {}) at {}: {}",
                r.what,
                r.entry,
                r.collector,
                time::format(r.at_ms),
                r.why
            ),
            json!({
                "entry": r.entry,
                "what": r.what,
                "collector": r.collector,
                "refused": r.why,
                "at": time::format(r.at_ms),
            }),
        );
    }
    if !g.json && !left.is_empty() {
        ctx::out(
            "Each is sent by the first consent command that runs after its moment, one feed per \
             run (withdrawals always); nothing sends them unless one runs: run `consent queue` \
             from a timer, e.g. every 5 minutes (README, Privacy); `consent queue --send-now` \
             sends them all now.",
        );
    }
    if !held.is_empty() || !refused.is_empty() {
        bail!(
            "{} held and {} refused entr{} need you (listed above): consent queue --drop ENTRY \
             drops a held one, consent queue --ack acknowledges the refusals",
            held.len(),
            refused.len(),
            if held.len() + refused.len() == 1 {
                "y"
            } else {
                "ies"
            }
        );
    }
    Ok(())
}

/// `consent queue --drop`: the entry and the entries of its feed after it leave the queue (or
/// the held entries), unsent.
fn drop_entry(
    ks: &mut consent_client::keystore::Keystore,
    id: &EntryId,
    g: &Global,
) -> anyhow::Result<()> {
    let path = queue::path_for(ks.path());
    let _lock = QueueLock::take(&path)?;
    // What another command saved while this one waited is not written back over.
    ks.reload()?;
    let mut q = queue::load(&path, ks.master())?;
    let gone = match q.find(id) {
        Some(at) => {
            let e = q.items[at].decode().map_err(anyhow::Error::msg)?;
            // Handed to a node: it may hold it as pending and take it in later, whatever this
            // queue says (held entries, out of the feed's chain, may go).
            if let Some((handed, item)) = q.handed_from(&e.feed, e.seq) {
                let which = if handed.id == *id {
                    format!("{} {id}", item.what)
                } else {
                    format!(
                        "{} {}, queued after {id} in its feed (it would be dropped with it),",
                        item.what, handed.id
                    )
                };
                bail!(
                    "nothing was dropped: the {which} was handed to {} already, which answered \
                     pending or whose answer was lost: that node may hold it and take it in once \
                     it can, and dropping it here would not stop that; let it be sent (consent \
                     queue --send-now), then revoke what you no longer mean (consent revoke ID \
                     for a grant); only entries no node was handed, or held for a conflict, can \
                     be dropped",
                    item.node
                );
            }
            // A withdrawal queued after it would be dropped with it (re-review M3).
            if !q.withdrawable(&e.feed, e.seq) {
                bail!(
                    "nothing was dropped: a revocation, opt-out, erasure or restriction request is \
                     queued after {id} in its feed and would be dropped with it; to withdraw a \
                     grant, revoke it (consent revoke {id}: its revocation leaves behind the \
                     entries queued before it)"
                );
            }
            q.drop_from(&e.feed, e.seq)
        }
        None => q.drop_held(id),
    };
    if gone.is_empty() {
        bail!("no entry {id} is queued or held (consent queue lists them)");
    }
    // Remembered in the keystore first: a restored or older queue file never sends them.
    for (e, item) in &gone {
        crate::send::note_unsent(ks, e, item);
    }
    ks.save()?;
    queue::save(&path, ks.master(), &q)?;
    let ids: Vec<String> = gone.iter().map(|(e, _)| e.id.to_string()).collect();
    let handed = gone.iter().any(|(_, item)| item.attempted);
    emit(
        g.json,
        format!(
            "Dropped, never to be sent: {}.{}",
            gone.iter()
                .map(|(e, item)| format!("{} {}", item.what, e.id))
                .collect::<Vec<_>>()
                .join(", "),
            if handed {
                " One of them had been handed to a node before it was held for a conflict: if \
                 consent list shows it, revoke it."
            } else {
                ""
            }
        ),
        json!({"dropped": ids}),
    );
    Ok(())
}
