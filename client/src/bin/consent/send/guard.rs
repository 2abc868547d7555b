//! Keeping a pairwise feed from forking when a command signs in it: the feed's queued entries go
//! first and a node that lags is brought up to date or refused ([`before_signing`], [`lagging`]),
//! and a feed no node knows is never silently started again ([`unknown_feed`]).

use anyhow::bail;
use consent_client::keystore::Keystore;
use consent_client::node::NodeConnection;
use consent_client::privacy::queue;
use consent_client::wallet;
use consent_proto::ids::FeedId;
use consent_proto::vocab::Role;

use super::flush::{Pick, send_queued};
use super::flushed::report;
use super::nodes::Nodes;
use super::standing::{catch_up, relay};

/// When no node asked knows the pairwise feed `feed` (for `collector`): refuses to start it
/// again when a node accepted entries of it from this wallet (a fork once the nodes meet),
/// unless `node` can be brought up to date with the entries the wallet keeps (then it knows the
/// feed: `true`); says loudly when only this keystore's journal lists entries no node here holds.
pub async fn unknown_feed(
    node: &mut NodeConnection,
    ks: &Keystore,
    collector: &FeedId,
    feed: &FeedId,
) -> anyhow::Result<bool> {
    let path = queue::path_for(ks.path());
    if path.exists() {
        let q = queue::load(&path, ks.master())?;
        if let Some(sent) = q.sent_of(feed) {
            let (_, inception) =
                wallet::pairwise_inception(ks.master(), collector).map_err(anyhow::Error::msg)?;
            if catch_up(node, &q, Some(&inception), feed, sent.seq).await? {
                eprintln!(
                    "consent: {} did not know your feed {}; it was given the entries of it that \
                     {} had accepted",
                    node.url(),
                    feed.typed(Role::Citizen),
                    sent.node
                );
                return Ok(true);
            }
            bail!(
                "the node at {} does not know your feed {}, but {} accepted entries of it up to \
                 #{} from this wallet: starting it again would fork it; nothing was signed: try \
                 again when the node holds them, or pass --node {}",
                node.url(),
                feed.typed(Role::Citizen),
                sent.node,
                sent.seq,
                sent.node
            );
        }
    }
    let key = collector.typed(Role::Collector).to_string();
    // Entries this keystore signed there, but the inception and those it never sent.
    let signed = ks.state.pairwise.get(&key).map_or(0, |f| {
        f.signed.iter().filter(|id| !f.unsent.contains(id)).count()
    });
    if signed > 1 {
        // Another node this wallet uses may hold the feed (re-review N9): it is given to this
        // one from there rather than started again.
        if let Some(from) = relay_from_others(node, ks, feed).await? {
            eprintln!(
                "consent: {} did not know your feed {}; it was given it from {from}",
                node.url(),
                feed.typed(Role::Citizen)
            );
            return Ok(true);
        }
        eprintln!(
            "consent: WARNING: this wallet signed {} entries in your feed {} before, but the node \
             at {} does not know the feed: if another node holds them, what is signed now forks \
             the feed (check with consent wallet monitor --at URL)",
            signed - 1,
            feed.typed(Role::Citizen),
            node.url()
        );
    }
    Ok(false)
}

/// Asks the other nodes of the wallet's privacy setting (`consent wallet privacy --nodes`) for
/// `feed`; the one that holds it furthest brings `node` up to its head ([`relay`]): that node's
/// URL. A node that holds it but cannot give it to `node` is an error (nothing is signed), and so
/// is a node that could not be asked when none of the others knows the feed (re-review M7: it
/// may be the one that holds it).
async fn relay_from_others(
    node: &mut NodeConnection,
    ks: &Keystore,
    feed: &FeedId,
) -> anyhow::Result<Option<String>> {
    let others: Vec<String> = ks
        .state
        .privacy
        .as_ref()
        .map_or(Vec::new(), |s| s.nodes.clone())
        .into_iter()
        .filter(|u| consent_client::node::node_url(u) != node.url())
        .collect();
    let mut best: Option<(String, NodeConnection, u64)> = None;
    let mut unasked: Vec<String> = Vec::new();
    for url in others {
        let Ok(mut other) = NodeConnection::connect_with(&url, node.tls()).await else {
            unasked.push(url);
            continue;
        };
        match other.head(feed).await {
            Ok(Some(head)) => {
                if best.as_ref().is_none_or(|(_, _, seq)| head.seq > *seq) {
                    best = Some((url, other, head.seq));
                }
            }
            Ok(None) => {}
            Err(_) => unasked.push(url),
        }
    }
    match best {
        Some((url, mut other, seq)) => {
            if relay(&mut other, node, feed, seq).await? {
                return Ok(Some(url));
            }
            bail!(
                "your feed {} is at {url} up to #{seq}, but {} could not be given it: nothing was \
                 signed (starting the feed again would fork it); try again, or pass --node {url}",
                feed.typed(Role::Citizen),
                node.url()
            );
        }
        None if !unasked.is_empty() => bail!(
            "this wallet signed entries in your feed {}, which {} does not know, and {} could not \
             be asked whether it holds it: nothing was signed (starting the feed again could fork \
             it); try again when they answer",
            feed.typed(Role::Citizen),
            node.url(),
            unasked.join(", ")
        ),
        None => Ok(None),
    }
}

/// Before a command signs in the pairwise feed for `collector` at the head `node` reports: the
/// feed's queued entries go to `node` first (after [`settle`](super::settle)), and a node that
/// does not hold what this wallet already had accepted is brought up to date, or refused. Entries
/// held for a conflict stop anything but a `withdrawal`, which is signed at the node's head (the
/// held ones are never sent).
pub async fn before_signing(
    node: &mut NodeConnection,
    ks: &Keystore,
    collector: &FeedId,
    withdrawal: bool,
) -> anyhow::Result<()> {
    let feed = wallet::pairwise_feed(ks.master(), collector);
    let (_, inception) =
        wallet::pairwise_inception(ks.master(), collector).map_err(anyhow::Error::msg)?;
    before_signing_feed(node, ks, &feed, &inception, withdrawal).await
}

/// [`before_signing`] for any of the wallet's citizen feeds (a delegate feed too), `inception`
/// its derived inception.
pub async fn before_signing_feed(
    node: &mut NodeConnection,
    ks: &Keystore,
    feed: &FeedId,
    inception: &consent_proto::Entry,
    withdrawal: bool,
) -> anyhow::Result<()> {
    let path = queue::path_for(ks.path());
    if !path.exists() {
        return Ok(());
    }
    let feed = *feed;
    let mut nodes = Nodes::pinned(node);
    let flushed = send_queued(ks, &mut nodes, Pick::Feed(feed)).await?;
    report(&flushed, &[]);
    let q = queue::load(&path, ks.master())?;
    if let Some(why) = q.held_in(&feed)
        && !withdrawal
    {
        bail!(
            "entries of this feed are held, NOT sent: {why}; nothing was signed: drop them first \
             (consent queue shows their ids: consent queue --drop ID)"
        );
    }
    if let Some((e, item, why)) = flushed.kept.first() {
        bail!(
            "your queued {} {} of this feed could not be sent to {} ({why}); nothing was signed \
             after it: try again, or pass the node it was meant for (--node {})",
            item.what,
            e.id,
            node.url(),
            item.node
        );
    }
    if let Some(sent) = q.sent_of(&feed) {
        let holds = node.head(&feed).await?.map(|h| h.seq);
        if holds.is_none_or(|seq| seq < sent.seq) {
            if catch_up(node, &q, Some(inception), &feed, sent.seq).await? {
                eprintln!(
                    "consent: {} lacked entries of your feed {} that {} had accepted: it was \
                     given them",
                    node.url(),
                    feed.typed(Role::Citizen),
                    sent.node
                );
            } else {
                bail!(
                    "the node at {} does not yet hold entry #{} of your feed {}, which {} \
                     accepted; signing now could fork your feed: try again in a moment, or pass \
                     --node {}",
                    node.url(),
                    sent.seq,
                    feed.typed(Role::Citizen),
                    sent.node,
                    sent.node
                );
            }
        }
    }
    Ok(())
}

/// Whether `node` lags what this wallet had accepted of its pairwise feed for `collector` (a
/// node accepted entries of it up to a seq this one does not hold) after trying to bring it up
/// to date: why, when it still lags.
pub async fn lagging(
    node: &mut NodeConnection,
    ks: &Keystore,
    collector: &FeedId,
) -> anyhow::Result<Option<String>> {
    let path = queue::path_for(ks.path());
    if !path.exists() {
        return Ok(None);
    }
    let feed = wallet::pairwise_feed(ks.master(), collector);
    let q = queue::load(&path, ks.master())?;
    let Some(sent) = q.sent_of(&feed) else {
        return Ok(None);
    };
    let (_, inception) =
        wallet::pairwise_inception(ks.master(), collector).map_err(anyhow::Error::msg)?;
    if catch_up(node, &q, Some(&inception), &feed, sent.seq).await? {
        return Ok(None);
    }
    Ok(Some(format!(
        "{} does not yet hold entry #{} of your feed {}, which {} accepted, so what it shows \
         cannot be trusted to be all your grants: try again in a moment, or pass --node {}",
        node.url(),
        sent.seq,
        feed.typed(Role::Citizen),
        sent.node,
        sent.node
    )))
}

/// Before a withdrawal is signed at `to`'s head in `feed`: when `--node` (`nodes`' main node)
/// holds the feed further than `to` does (another device signed there, and gossip has not
/// reached `to` yet), `to` is given the rest from it first ([`relay`]; re-review M4: signing at
/// `to`'s head would fork the feed). When that fails, it is said, and the withdrawal is signed
/// all the same: a `--node` that claims more than it serves must not be able to stop a
/// withdrawal (re-review R2). A `--node` that cannot be asked is not waited for: `to` is the
/// feed's own node.
pub async fn up_to_main(
    nodes: &mut Nodes,
    to: &mut NodeConnection,
    feed: &FeedId,
) -> anyhow::Result<()> {
    let main = nodes.main().to_string();
    if consent_client::node::node_url(&main) == to.url() {
        return Ok(());
    }
    let Ok(mut from) = nodes.to(&main, false).await else {
        return Ok(());
    };
    let Ok(Some(head)) = from.head(feed).await else {
        return Ok(());
    };
    match relay(&mut from, to, feed, head.seq).await {
        Ok(true) => {}
        Ok(false) => eprintln!(
            "consent: WARNING: {main} says it holds your feed {} up to #{}, further than {}, which \
             could not be given the rest from it; this withdrawal is signed at {}'s head all the \
             same (if another device of yours signed there, your feed may be frozen: run consent \
             wallet monitor)",
            feed.typed(Role::Citizen),
            head.seq,
            to.url(),
            to.url()
        ),
        Err(e) => eprintln!(
            "consent: WARNING: {} could not be brought up to what {main} holds of your feed {} \
             ({e}); this withdrawal is signed at its head all the same",
            to.url(),
            feed.typed(Role::Citizen)
        ),
    }
    Ok(())
}
