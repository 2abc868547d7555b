//! How the wallet sends what it signs in its pairwise feeds (`consent_client::privacy`): at once,
//! or later from the send queue beside the keystore, each feed to its own node.
//!
//! - [`send_queued`]: sends queued entries, each feed's in order to its node ([`Nodes`]), and
//!   updates the queue; what a command that signs does with it is `outbox`.
//! - [`settle`]: before any queued entry is sent, and before a command signs after queued
//!   entries, the node the feed goes to is asked for the feed's head. The queued entries go only
//!   when the first of them follows that head (`seq = head + 1`, its `prev` the head); those the
//!   node holds already count as sent; a node that holds **another** entry where the queue's
//!   chain goes (another device, or a restored copy of this wallet, signed there) makes them
//!   **held**: never sent (sending them would fork the feed, and a forked feed is frozen), said
//!   loudly by every command, dropped only by the person (`consent queue --drop`). A node that
//!   lags is first brought up to date with the accepted entries the queue keeps.
//! - [`before_signing`]: called by `ctx::pairwise` before any command signs in a pairwise feed
//!   at the head a node reports: the feed's queued entries are sent to that node first, and a
//!   node that lags what this wallet had accepted is brought up to date, or refused (signing
//!   there would fork the feed).
//! - [`unknown_feed`]: when no node asked knows a feed this wallet has used, never a silent new
//!   start at seq 1 (a fork once the nodes meet).
//! - [`flush_due`]: what a command that only reads sends on its way (`consent list`, `consent
//!   wallet monitor`, `consent queue`).
//!
//! One run sends the due entries of at most one feed besides withdrawals (`Queue::due_now`), so
//! that entries left overdue do not leave back to back. A node's refusal of a queued entry for
//! good drops it and the entries of its feed after it (they chain on it), and the queue keeps the
//! refusal until the person acknowledges it (`consent queue --ack`); an unreachable node, a
//! pending answer or a refusal that depends on the node's clock (`time-in-future`) keeps the
//! entry queued for the next run. Only a withdrawal falls back to `--node` when its feed's node
//! cannot be reached (withdrawing is never harder); anything else waits for its own node.
//! Everything sent, dropped or held on a command's way is said on stderr.

use anyhow::bail;
use consent_client::keystore::Keystore;
use consent_client::node::{ClientError, NodeConnection, RejectionReason};
use consent_client::privacy::queue::{self, Queue, QueueLock, Queued, Refusal};
use consent_client::privacy::{self, schedule};
use consent_client::time;
use consent_client::transport::TlsOptions;
use consent_client::wallet;
use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId, TypedFeedId};
use consent_proto::pb;
use consent_proto::vocab::Role;
use tonic::Code;

/// The node (URL) the pairwise feed `feed` uses: its own among the wallet's nodes, else `main`
/// (`--node`).
pub fn feed_url(main: &str, ks: &Keystore, feed: &FeedId) -> String {
    let nodes: &[String] = ks
        .state
        .privacy
        .as_ref()
        .map_or(&[], |s| s.nodes.as_slice());
    match nodes.len() {
        0 => main.to_string(),
        n => nodes[schedule::node_for(ks.master(), feed, n)].clone(),
    }
}

/// "at 2026-03-02T10:15:00Z" for a moment, "now" for one already past.
pub fn when(due_ms: u64) -> String {
    if due_ms <= time::now_ms() {
        "now".to_string()
    } else {
        format!("at {}", time::format(due_ms))
    }
}

/// Connections to the nodes a command sends to, opened when first needed.
pub struct Nodes {
    tls: TlsOptions,
    main: String,
    open: Vec<(String, NodeConnection)>,
    /// Every entry goes through the one connection held.
    pinned: bool,
}

impl Nodes {
    /// `main_url`: `--node`; `main`: the connection to it, when one is open.
    pub fn new(main_url: &str, tls: TlsOptions, main: Option<&NodeConnection>) -> Nodes {
        Nodes {
            tls,
            main: main_url.to_string(),
            open: main
                .map(|n| (main_url.to_string(), n.clone()))
                .into_iter()
                .collect(),
            pinned: false,
        }
    }

    /// Everything through `node`.
    fn pinned(node: &NodeConnection) -> Nodes {
        Nodes {
            tls: node.tls().clone(),
            main: node.url().to_string(),
            open: vec![(node.url().to_string(), node.clone())],
            pinned: true,
        }
    }

    async fn get(&mut self, url: &str) -> Result<&mut NodeConnection, ClientError> {
        let at = if self.pinned {
            Some(0)
        } else {
            self.open.iter().position(|(u, _)| u == url)
        };
        let at = match at {
            Some(at) => at,
            None => {
                let c = NodeConnection::connect_with(url, &self.tls).await?;
                self.open.push((url.to_string(), c));
                self.open.len() - 1
            }
        };
        Ok(&mut self.open[at].1)
    }

    /// A connection to `url`. When it cannot be reached, a `withdrawal` (a revocation, an
    /// opt-out, an erasure or restriction request: withdrawing is never harder) goes to
    /// `--node` instead, said on stderr; anything else fails: a feed always talks to its own
    /// node (another would see it, and one that lags it could make the wallet fork it).
    pub async fn to(&mut self, url: &str, withdrawal: bool) -> anyhow::Result<NodeConnection> {
        let first = self.get(url).await.map(|c| c.clone());
        match first {
            Ok(c) => Ok(c),
            Err(e) if withdrawal && url != self.main => {
                eprintln!(
                    "consent: {url} cannot be reached ({e}); this withdrawal goes to {} instead \
                     (that node's operator sees it)",
                    self.main
                );
                let main = self.main.clone();
                Ok(self.get(&main).await?.clone())
            }
            Err(e) if url != self.main => bail!(
                "the node of this feed, {url}, cannot be reached ({e}); try again later (each of \
                 your feeds always uses its own node: consent wallet privacy lists them)"
            ),
            Err(e) => Err(e.into()),
        }
    }

    /// The connection for the pairwise feed `feed` (its node, see [`feed_url`]; `withdrawal`:
    /// see [`Nodes::to`]).
    pub async fn for_feed(
        &mut self,
        ks: &Keystore,
        feed: &FeedId,
        withdrawal: bool,
    ) -> anyhow::Result<NodeConnection> {
        let url = feed_url(&self.main, ks, feed);
        self.to(&url, withdrawal).await
    }
}

/// Which queued entries to send.
#[derive(Clone)]
pub enum Pick {
    /// What one run sends at this moment (`Queue::due_now`: every due withdrawal's feed, and the
    /// most overdue other feed).
    Due(u64),
    /// [`Pick::Due`], and every due entry of these feeds (a command's own).
    DueWith(u64, Vec<FeedId>),
    /// The due entries of these feeds only (a withdrawal's: nothing else delays it).
    Own(u64, Vec<FeedId>),
    /// Every entry of this feed.
    Feed(FeedId),
    /// All of them.
    All,
}

/// What a flush did.
#[derive(Default)]
pub struct Flushed {
    /// Accepted by a node (or held by it already): the entry, its item, the node.
    pub sent: Vec<(Entry, Queued, String)>,
    /// Refused by a node for good, with the refusal; dropped.
    pub dropped: Vec<(Entry, Queued, ClientError)>,
    /// Dropped because an earlier entry of their feed was refused.
    pub abandoned: Vec<(Entry, Queued)>,
    /// Kept queued (a node unreachable or lagging, a pending answer), with why.
    pub kept: Vec<(Entry, Queued, String)>,
    /// Held, never sent: they conflict with what a node holds (see the module docs), with why.
    pub held: Vec<(Entry, Queued, String)>,
    /// After the flush: how many entries are held, and how many refusals wait to be
    /// acknowledged ([`remind`]).
    pub attention: (usize, usize),
}

/// Refusals of an entry itself (it will never be accepted), as opposed to a node too busy or
/// failing (retried later).
fn refused_for_good(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange | Code::AlreadyExists
    )
}

/// What became of one submitted entry.
enum Answer {
    /// Accepted, or held already.
    Held,
    /// Try again later.
    Kept(String),
    /// The node holds another history of the feed there.
    Conflict(String),
    /// Refused for good.
    Refused(ClientError),
}

fn classify(e: ClientError) -> Answer {
    let (code, reason) = match &e {
        ClientError::Refused { code, reason, .. } => (*code, *reason),
        _ => return Answer::Kept(e.to_string()),
    };
    match reason {
        // Depends on the node's clock: it passes.
        RejectionReason::TimeInFuture => Answer::Kept(format!(
            "{e} (kept: the node's clock is behind this wallet's; it is sent again later)"
        )),
        RejectionReason::WrongPrev
        | RejectionReason::UnprovenConflict
        | RejectionReason::Equivocation
        | RejectionReason::FeedFrozen => Answer::Conflict(e.to_string()),
        _ if refused_for_good(code) => Answer::Refused(e),
        _ => Answer::Kept(e.to_string()),
    }
}

fn answer_of(r: &pb::SubmitResponse, url: &str) -> Answer {
    match r.status() {
        pb::SubmitStatus::Accepted | pb::SubmitStatus::Duplicate => Answer::Held,
        pb::SubmitStatus::Pending => Answer::Kept(format!(
            "{url} holds it as pending: it waits for {}",
            hex::encode(&r.missing)
        )),
        pb::SubmitStatus::Unspecified => Answer::Kept(format!("{url} gave no status")),
    }
}

/// Submits a feed's entries, in order: one `Submit`, or one `SubmitBatch` for several (the node
/// applies a batch in one commit: a grant never leaves without the revocation queued behind it).
async fn submit_all(conn: &mut NodeConnection, batch: &[(Entry, Queued)]) -> Vec<Answer> {
    let url = conn.url().to_string();
    if let [(entry, item)] = batch {
        return vec![match conn.submit(entry, &item.what).await {
            Ok(r) => answer_of(&r, &url),
            Err(e) => classify(e),
        }];
    }
    let entries: Vec<Entry> = batch.iter().map(|(e, _)| e.clone()).collect();
    match conn.submit_batch(&entries).await {
        Ok(results) => batch
            .iter()
            .enumerate()
            .map(|(k, (_, item))| match results.get(k) {
                Some(Ok(r)) => answer_of(r, &url),
                Some(Err(rejected)) => classify(ClientError::Refused {
                    what: item.what.clone(),
                    code: rejected.code,
                    message: rejected.message.clone(),
                    reason: rejected.reason,
                }),
                None => Answer::Kept(format!("{url} gave no answer for it")),
            })
            .collect(),
        Err(e) => {
            let why = e.to_string();
            batch.iter().map(|_| Answer::Kept(why.clone())).collect()
        }
    }
}

/// What the node a feed's queued entries go to holds, against them ([`settle`]).
pub enum Standing {
    /// The queued entries (if any are left) follow the node's head: they may be sent, or signed
    /// after. `head`: the node's head, when it knows the feed.
    Ready {
        /// The node's head.
        head: Option<pb::GetHeadResponse>,
    },
    /// The node does not yet hold the entry the queue's first one follows: try again later.
    Lagging(String),
    /// The node holds another entry where the queue's chain goes: the queued entries are held.
    Conflict(String),
}

/// Why entries are held, for people.
fn conflict_text(url: &str, feed: &FeedId, seq: u64) -> String {
    format!(
        "{url} holds another entry at #{seq} of your feed {}: another device, or a restored copy \
         of this wallet, signed there. These queued entries were NOT sent (sending them would \
         fork your feed, and a forked feed is frozen); what they say was never public: drop \
         them (consent queue --drop ID) and sign it again if you still mean it",
        feed.typed(Role::Citizen)
    )
}

/// The inception of the pairwise feed for the collector `collector` names (`col1…`), when it is
/// `feed`'s: a lagging node can be given it (it is derived, never stored).
fn inception_of(ks: &Keystore, collector: &str, feed: &FeedId) -> Option<Entry> {
    let c = TypedFeedId::parse_role(collector, Role::Collector).ok()?;
    let (_, inception) = wallet::pairwise_inception(ks.master(), &c).ok()?;
    (inception.feed == *feed).then_some(inception)
}

/// Brings `node` up to seq `upto` of `feed` with the entries this wallet keeps of it (the last
/// accepted ones, `Queue::sent_entries`, and its derived `inception`), when it lags: a node that
/// gossip did not reach yet, or that lost them. Only entries above the node's head are
/// submitted (never one at a seq it holds). Whether the node then holds `upto`.
pub async fn catch_up(
    node: &mut NodeConnection,
    q: &Queue,
    inception: Option<&Entry>,
    feed: &FeedId,
    upto: u64,
) -> Result<bool, ClientError> {
    let have = node.head(feed).await?.map(|h| h.seq);
    if have.is_some_and(|s| s >= upto) {
        return Ok(true);
    }
    let from = have.map_or(0, |s| s + 1);
    let mut kept = q.sent_entries(feed);
    if let Some(i) = inception
        && !kept.iter().any(|e| e.seq == 0)
    {
        kept.insert(0, i.clone());
    }
    let chain: Vec<Entry> = kept
        .into_iter()
        .filter(|e| e.seq >= from && e.seq <= upto)
        .collect();
    if chain.first().map(|e| e.seq) != Some(from) || chain.len() as u64 != upto + 1 - from {
        return Ok(false);
    }
    let results = node.submit_batch(&chain).await?;
    Ok(results.len() == chain.len()
        && results.iter().all(|r| {
            r.as_ref().is_ok_and(|resp| {
                matches!(
                    resp.status(),
                    pb::SubmitStatus::Accepted | pb::SubmitStatus::Duplicate
                )
            })
        }))
}

/// Compares what `node` holds of `feed` with the feed's queued entries in `q` (see the module
/// docs): those the node holds already are recorded as sent and leave the queue (into
/// `out.sent`); on a conflict the queued entries from there on are held (into `out.held`); a
/// node that lags is brought up to date first when the wallet keeps what it lacks.
pub async fn settle(
    node: &mut NodeConnection,
    ks: &Keystore,
    q: &mut Queue,
    feed: &FeedId,
    out: &mut Flushed,
) -> Result<Standing, ClientError> {
    let url = node.url().to_string();
    let of = q.of_feed(feed);
    let Some((first_at, first)) = of.first().cloned() else {
        return Ok(Standing::Ready {
            head: node.head(feed).await?,
        });
    };
    let inception = inception_of(ks, &q.items[first_at].collector, feed);
    let mut caught_up = false;
    loop {
        let head = node.head(feed).await?;
        let hold = |q: &mut Queue, out: &mut Flushed, seq: u64, why: String| {
            for (e, item) in q.hold_from(feed, seq, &why) {
                out.held.push((e, item, why.clone()));
            }
            Standing::Conflict(why)
        };
        let Some(h) = &head else {
            if first.seq == 0 {
                return Ok(Standing::Ready { head: None });
            }
            if !caught_up && catch_up(node, q, inception.as_ref(), feed, first.seq - 1).await? {
                caught_up = true;
                continue;
            }
            return Ok(Standing::Lagging(format!(
                "{url} does not know this feed yet"
            )));
        };
        if h.frozen {
            let why = format!(
                "{url} holds your feed {} frozen: two entries were signed at one of its seqs \
                 (another device, or a restored copy of this wallet); nothing more is sent to it",
                feed.typed(Role::Citizen)
            );
            return Ok(hold(q, out, first.seq, why));
        }
        let head_id = EntryId::from_slice(&h.head).ok();
        if h.seq + 1 < first.seq {
            if !caught_up && catch_up(node, q, inception.as_ref(), feed, first.seq - 1).await? {
                caught_up = true;
                continue;
            }
            return Ok(Standing::Lagging(format!(
                "{url} holds your feed up to #{} only, and the queued entries start at #{}",
                h.seq, first.seq
            )));
        }
        if h.seq + 1 == first.seq {
            if first.prev.is_some() && first.prev == head_id {
                return Ok(Standing::Ready { head });
            }
            return Ok(hold(q, out, first.seq, conflict_text(&url, feed, h.seq)));
        }
        // The node holds entries at the queued seqs: each must be this wallet's.
        let mut there: Vec<Entry> = Vec::new();
        let mut conflict_at = None;
        for (_, e) in &of {
            if e.seq > h.seq {
                break;
            }
            match node.entry(&e.id).await? {
                Some(x) if x.feed == *feed => there.push(e.clone()),
                _ => {
                    conflict_at = Some(e.seq);
                    break;
                }
            }
        }
        for e in &there {
            q.record_sent(e, &url);
            if let Some(i) = q.find(&e.id) {
                let item = q.items.remove(i);
                out.sent.push((e.clone(), item, url.clone()));
            }
        }
        if let Some(seq) = conflict_at {
            return Ok(hold(q, out, seq, conflict_text(&url, feed, seq)));
        }
        return Ok(Standing::Ready { head });
    }
}

/// Sends the queued entries `pick` selects, each feed's in order to its node after [`settle`],
/// and updates the queue: sent ones leave it, a refused one leaves it with every later entry of
/// its feed (the refusal is kept until acknowledged), conflicting ones are held, the others stay
/// (and so do the later entries of their feed).
pub async fn send_queued(ks: &Keystore, nodes: &mut Nodes, pick: Pick) -> anyhow::Result<Flushed> {
    let path = queue::path_for(ks.path());
    let _lock = QueueLock::take(&path)?;
    let mut q = queue::load(&path, ks.master())?;
    let chosen: Vec<usize> = match &pick {
        Pick::Due(now) => q.due_now(*now),
        Pick::DueWith(now, own) => {
            let base = q.due_now(*now);
            q.due(*now)
                .into_iter()
                .filter(|i| {
                    base.contains(i) || q.items[*i].decode().is_ok_and(|e| own.contains(&e.feed))
                })
                .collect()
        }
        Pick::Own(now, own) => q
            .due(*now)
            .into_iter()
            .filter(|i| q.items[*i].decode().is_ok_and(|e| own.contains(&e.feed)))
            .collect(),
        Pick::All => q.order(),
        Pick::Feed(feed) => {
            let of: Vec<usize> = q.of_feed(feed).into_iter().map(|(i, _)| i).collect();
            q.order().into_iter().filter(|i| of.contains(i)).collect()
        }
    };
    let mut out = Flushed {
        attention: (q.held.len(), q.refused.len()),
        ..Flushed::default()
    };
    if chosen.is_empty() {
        return Ok(out);
    }
    // By entry id (places move as entries leave), and the feeds in the order they first come.
    let mut ids: Vec<EntryId> = Vec::new();
    let mut feeds: Vec<FeedId> = Vec::new();
    for &i in &chosen {
        let e = q.items[i].decode().map_err(anyhow::Error::msg)?;
        if !feeds.contains(&e.feed) {
            feeds.push(e.feed);
        }
        ids.push(e.id);
    }
    for feed in &feeds {
        send_feed(ks, nodes, &mut q, &path, feed, &ids, &mut out).await?;
    }
    queue::save(&path, ks.master(), &q)?;
    out.attention = (q.held.len(), q.refused.len());
    Ok(out)
}

/// [`send_queued`] for one feed: the `chosen` entries of `feed` still queued.
async fn send_feed(
    ks: &Keystore,
    nodes: &mut Nodes,
    q: &mut Queue,
    path: &std::path::Path,
    feed: &FeedId,
    chosen: &[EntryId],
    out: &mut Flushed,
) -> anyhow::Result<()> {
    let of = q.of_feed(feed);
    let Some((first_at, _)) = of.first() else {
        return Ok(());
    };
    let mine = |q: &Queue| -> Vec<(Entry, Queued)> {
        q.of_feed(feed)
            .into_iter()
            .filter(|(_, e)| chosen.contains(&e.id))
            .map(|(i, e)| (e, q.items[i].clone()))
            .collect()
    };
    let url = q.items[*first_at].node.clone();
    let withdrawal = of
        .iter()
        .any(|(_, e)| chosen.contains(&e.id) && privacy::handling(&e.body).at_once);
    let mut conn = match nodes.to(&url, withdrawal).await {
        Ok(c) => c,
        Err(e) => {
            let why = format!("{e:#}");
            for (e, item) in mine(&*q) {
                out.kept.push((e, item, why.clone()));
            }
            return Ok(());
        }
    };
    let standing = match settle(&mut conn, ks, q, feed, out).await {
        Ok(s) => s,
        Err(e) => Standing::Lagging(e.to_string()),
    };
    match standing {
        Standing::Ready { .. } => {}
        Standing::Lagging(why) => {
            for (e, item) in mine(&*q) {
                out.kept.push((e, item, why.clone()));
            }
            return Ok(());
        }
        Standing::Conflict(_) => return Ok(()),
    }
    let batch = mine(&*q);
    if batch.is_empty() {
        return Ok(());
    }
    // From here on they may be public: saved before the submit, so that a command killed after
    // it still knows (such an entry is revoked, never withdrawn unseen).
    for (e, _) in &batch {
        if let Some(i) = q.find(&e.id) {
            q.items[i].attempted = true;
        }
    }
    queue::save(path, ks.master(), q)?;
    let to = conn.url().to_string();
    let answers = submit_all(&mut conn, &batch).await;
    let mut rest: Option<String> = None;
    for ((e, mut item), answer) in batch.into_iter().zip(answers) {
        item.attempted = true;
        if let Some(why) = &rest {
            if q.find(&e.id).is_some() {
                out.kept.push((e, item, why.clone()));
            }
            continue;
        }
        match answer {
            Answer::Held => {
                q.record_sent(&e, &to);
                if let Some(i) = q.find(&e.id) {
                    q.items.remove(i);
                }
                out.sent.push((e, item, to.clone()));
            }
            Answer::Kept(why) => {
                rest = Some(format!("an earlier entry of its feed waits ({why})"));
                out.kept.push((e, item, why));
            }
            Answer::Conflict(why) => {
                let why = format!(
                    "{to} refused it as conflicting with what it holds ({why}); it was not sent \
                     again: drop it (consent queue --drop ID), and sign again what you still mean"
                );
                for (later, later_item) in q.hold_from(feed, e.seq, &why) {
                    out.held.push((later, later_item, why.clone()));
                }
                // Everything after it is set aside with it (reported just above).
                break;
            }
            Answer::Refused(err) => {
                let now = time::now_ms();
                let gone = q.drop_from(feed, e.seq);
                for (k, (g, gitem)) in gone.into_iter().enumerate() {
                    let why = if k == 0 {
                        err.to_string()
                    } else {
                        "an earlier entry of its feed was refused".to_string()
                    };
                    q.refuse(Refusal {
                        entry: g.id.to_string(),
                        what: gitem.what.clone(),
                        collector: gitem.collector.clone(),
                        why,
                        at_ms: now,
                    });
                    if k > 0 {
                        out.abandoned.push((g, gitem));
                    }
                }
                out.dropped.push((e, item, err));
                break;
            }
        }
    }
    Ok(())
}

/// Says on stderr what a flush did with entries other than `own` (a command reports its own).
pub fn report(f: &Flushed, own: &[EntryId]) {
    for (e, item, to) in &f.sent {
        if !own.contains(&e.id) {
            eprintln!(
                "consent: sent your queued {} {} (collector {}) to {to}",
                item.what, e.id, item.collector
            );
        }
    }
    for (e, item, err) in &f.dropped {
        eprintln!(
            "consent: your queued {} {} (collector {}) was REFUSED and is dropped from the queue, \
             with the entries of its feed after it: {err}; it is NOT in effect (consent queue \
             shows it until you acknowledge it: consent queue --ack)",
            item.what, e.id, item.collector
        );
    }
    for (e, item) in &f.abandoned {
        eprintln!(
            "consent: dropped your queued {} {} (collector {}): an earlier entry of its feed was \
             refused; it is NOT in effect",
            item.what, e.id, item.collector
        );
    }
    for (e, item, why) in &f.held {
        eprintln!(
            "consent: HELD, NOT sent: your queued {} {} (collector {}): {why}",
            item.what, e.id, item.collector
        );
    }
    for (e, item, why) in &f.kept {
        if !own.contains(&e.id) {
            eprintln!(
                "consent: your queued {} {} (collector {}) stays queued: {why}",
                item.what, e.id, item.collector
            );
        }
    }
}

/// Says on stderr, once per command, that entries are held or refused until the person looks
/// (`consent queue`).
pub fn remind(f: &Flushed) {
    let (held, refused) = f.attention;
    if held + refused > 0 {
        eprintln!(
            "consent: your send queue needs you: {held} entr{} held, NOT sent (they conflict with \
             what a node holds), {refused} refused by a node and NOT in effect: consent queue \
             shows them (--drop ID, --ack)",
            if held == 1 { "y" } else { "ies" }
        );
    }
}

/// Sends what one run sends now (`Pick::Due`), on the way of a command that opened the wallet
/// (`nodes`: `--node` and the connection to it, if any). Only the queue file's own problems
/// fail.
pub async fn flush_due(ks: &Keystore, mut nodes: Nodes) -> anyhow::Result<Flushed> {
    if !queue::path_for(ks.path()).exists() {
        return Ok(Flushed::default());
    }
    let f = send_queued(ks, &mut nodes, Pick::Due(time::now_ms())).await?;
    report(&f, &[]);
    remind(&f);
    Ok(f)
}

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
    let signed = ks.state.pairwise.get(&key).map_or(0, |f| f.signed.len());
    if signed > 1 {
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

/// Before a command signs in the pairwise feed for `collector` at the head `node` reports: the
/// feed's queued entries go to `node` first (after [`settle`]), and a node that does not hold
/// what this wallet already had accepted is brought up to date, or refused. Entries held for a
/// conflict stop anything but a `withdrawal`, which is signed at the node's head (the held ones
/// are never sent).
pub async fn before_signing(
    node: &mut NodeConnection,
    ks: &Keystore,
    collector: &FeedId,
    withdrawal: bool,
) -> anyhow::Result<()> {
    let path = queue::path_for(ks.path());
    if !path.exists() {
        return Ok(());
    }
    let feed = wallet::pairwise_feed(ks.master(), collector);
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
            let (_, inception) =
                wallet::pairwise_inception(ks.master(), collector).map_err(anyhow::Error::msg)?;
            if catch_up(node, &q, Some(&inception), &feed, sent.seq).await? {
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

/// The queued entries (with their items), in sending order, for display.
pub fn queued(ks: &Keystore) -> anyhow::Result<Vec<(Entry, Queued)>> {
    let q = queue::load(&queue::path_for(ks.path()), ks.master())?;
    let mut out = Vec::new();
    for i in q.order() {
        let item = q.items[i].clone();
        out.push((item.decode().map_err(anyhow::Error::msg)?, item));
    }
    Ok(out)
}

/// The entries set aside for a conflict (never sent), for display.
pub fn held(ks: &Keystore) -> anyhow::Result<Vec<(Entry, Queued)>> {
    let q = queue::load(&queue::path_for(ks.path()), ks.master())?;
    q.held
        .into_iter()
        .map(|item| Ok((item.decode().map_err(anyhow::Error::msg)?, item)))
        .collect()
}

/// The refusals kept until acknowledged.
pub fn refusals(ks: &Keystore) -> anyhow::Result<Vec<Refusal>> {
    Ok(queue::load(&queue::path_for(ks.path()), ks.master())?.refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: Code, reason: RejectionReason) -> ClientError {
        ClientError::Refused {
            what: "the grant".into(),
            code,
            message: "no".into(),
            reason,
        }
    }

    #[test]
    fn a_refusal_that_passes_keeps_the_entry_a_conflict_holds_it_others_drop_it() {
        // The node's clock behind the wallet's: it passes, the entry is sent again later.
        assert!(matches!(
            classify(refused(
                Code::InvalidArgument,
                RejectionReason::TimeInFuture
            )),
            Answer::Kept(_)
        ));
        // Another history of the feed at the node: never sent again, never dropped unseen.
        for reason in [
            RejectionReason::WrongPrev,
            RejectionReason::UnprovenConflict,
            RejectionReason::Equivocation,
            RejectionReason::FeedFrozen,
        ] {
            assert!(matches!(
                classify(refused(Code::FailedPrecondition, reason)),
                Answer::Conflict(_)
            ));
        }
        // The entry itself is wrong: dropped (and kept as a refusal until acknowledged).
        assert!(matches!(
            classify(refused(
                Code::InvalidArgument,
                RejectionReason::BadSignature
            )),
            Answer::Refused(_)
        ));
        // The node failing or busy: retried.
        assert!(matches!(
            classify(refused(Code::Unavailable, RejectionReason::Unspecified)),
            Answer::Kept(_)
        ));
        assert!(matches!(
            classify(ClientError::Unreachable {
                url: "http://n:1".into(),
                message: "down".into()
            }),
            Answer::Kept(_)
        ));
    }
}
