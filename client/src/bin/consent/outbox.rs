//! A command's way to the pairwise feeds it signs in (`consent_client::privacy`): it opens the
//! [`Outbox`] (holding the send queue's lock until the command ends, reading the keystore again
//! under it, and first sending what one run sends: every command that signs flushes the queue),
//! resumes a feed after its last queued entry once the feed's node confirms the queue still
//! follows what it holds ([`Outbox::author`], `send::settle`), dates entries by the coarse-time
//! rule ([`Outbox::signed_time`], [`Outbox::draw_due`] for a grant's `valid_from`), and hands
//! what it signed to [`Outbox::dispatch`], which plans (`privacy::schedule::plan`), queues, and
//! sends what is due now, each feed to its node (`send`). A queued entry no node was ever handed
//! can be withdrawn unseen ([`Outbox::cancel`]).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use consent_client::keystore::Keystore;
use consent_client::node::NodeConnection;
use consent_client::privacy::Settings;
use consent_client::privacy::coarse::{self, Exactness};
use consent_client::privacy::queue::{self, LOCK_WAIT, LOCK_WAIT_WITHDRAWAL, QueueLock, Queued};
use consent_client::privacy::schedule::{self, Draw, OsDraw, Outgoing, Waiting};
use consent_client::time;
use consent_client::wallet;
use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::entry::Author;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::Role;

use crate::ctx::{self, Global};
use crate::send::{self, Flushed, Nodes, Pick, Standing, feed_url, report, send_queued};

/// The privacy setting in force for this command: the wallet's (`consent wallet privacy`), else
/// the default; with `--now`, exact times and everything sent at once.
pub fn settings(g: &Global, ks: &Keystore) -> Settings {
    let mut s = ks.state.privacy.clone().unwrap_or_default().effective();
    if g.now() {
        s.coarse_ms = None;
        s.spread_ms = None;
    }
    s
}

/// Holds the send queue's lock for a command that signs in its pairwise feeds (an [`Outbox`], or
/// one that sends at once itself: a delegation, an undelegation, a stance, a takeover), from
/// before it reads a feed's head until what it signed is sent or queued, so that no other
/// command or timer signs or sends in those feeds meanwhile (two entries at one seq would fork
/// the feed); reads the keystore again under it, so that what another command saved while this
/// one waited (a new feed, a rotation, a setting) is not written back over. A `withdrawal`
/// waits longer for it.
pub fn hold_queue(ks: &mut Keystore, withdrawal: bool) -> anyhow::Result<QueueLock> {
    let path = queue::path_for(ks.path());
    let wait = if withdrawal {
        LOCK_WAIT_WITHDRAWAL
    } else {
        LOCK_WAIT
    };
    let lock = QueueLock::take_noting(&path, wait, Duration::from_secs(2))?;
    ks.reload()?;
    Ok(lock)
}

/// An entry a command signed in one of its pairwise feeds, to send.
pub struct Item {
    /// The entry.
    pub entry: Entry,
    /// The collector its feed is for.
    pub collector: FeedId,
    /// What it is: `feed inception`, `grant`, `revocation`, `request`, `rotation`.
    pub what: &'static str,
    /// A revocation, an opt-out, an erasure or restriction request: sent at once.
    pub at_once: bool,
}

/// What became of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// A node accepted it (or held it already).
    Sent {
        /// The node.
        node: String,
    },
    /// It waits in the queue.
    Queued {
        /// Until then, Unix ms.
        due_ms: u64,
        /// For that node.
        node: String,
    },
}

/// A feed resumed for signing.
pub struct Resumed {
    /// Its author, at the feed's last entry (queued or on the node).
    pub author: Author,
    /// The feed's inception, when no node knows the feed yet: it goes with the entry signed
    /// next.
    pub inception: Option<Entry>,
    /// The last entry's signed time (the floor of the next one's).
    pub prev_ms: u64,
}

/// The delays drawn before signing ([`Outbox::draw_due`]), handed to the next plan in the order
/// drawn, then the operating system's draws.
struct Drawn<'a>(&'a mut Vec<u64>);

impl Draw for Drawn<'_> {
    fn up_to(&mut self, max: u64) -> u64 {
        if self.0.is_empty() {
            OsDraw.up_to(max)
        } else {
            self.0.remove(0).min(max)
        }
    }
}

/// A command's way to its pairwise feeds: the queue (locked until the command ends), the
/// setting, and the nodes.
pub struct Outbox {
    /// The setting in force ([`settings`]).
    pub settings: Settings,
    /// Connections.
    pub nodes: Nodes,
    path: PathBuf,
    /// A withdrawal: it sends only its own feeds (nothing else delays it).
    withdrawal: bool,
    /// Delays drawn by [`Outbox::draw_due`], not yet planned.
    drawn: Vec<u64>,
    /// The moment they count from.
    drawn_at: Option<u64>,
    /// [`Outbox::open`] sent (or tried) what one run sends: [`Outbox::dispatch`] sends only the
    /// command's own feeds then (one overdue feed per run, re-review L6).
    ran: bool,
    _lock: QueueLock,
}

impl Outbox {
    /// Opens the queue for a command that signs (a `withdrawal` waits longer for another command
    /// to release the queue, and sends nothing on its way but its own feeds), reads the keystore
    /// again under the lock, and sends what one run sends.
    pub async fn open(
        g: &Global,
        ks: &mut Keystore,
        main: &NodeConnection,
        withdrawal: bool,
    ) -> anyhow::Result<Outbox> {
        let path = queue::path_for(ks.path());
        let lock = hold_queue(ks, withdrawal)?;
        let mut nodes = Nodes::new(&g.node, g.tls()?, Some(main));
        let mut ran = false;
        if path.exists() && !withdrawal {
            let f = send_queued(ks, &mut nodes, Pick::Due(time::now_ms())).await?;
            report(&f, &[]);
            send::remind(&f);
            ran = !(f.sent.is_empty()
                && f.kept.is_empty()
                && f.held.is_empty()
                && f.dropped.is_empty());
        }
        Ok(Outbox {
            settings: settings(g, ks),
            nodes,
            path,
            withdrawal,
            drawn: Vec::new(),
            drawn_at: None,
            ran,
            _lock: lock,
        })
    }

    /// The `time_ms` of an entry made at `now_ms` after one signed at `floor_ms`.
    pub fn signed_time(&self, now_ms: u64, floor_ms: u64, exactness: Exactness) -> u64 {
        coarse::signed_time(self.settings.coarse_ms, now_ms, floor_ms, exactness)
    }

    /// The moment the entries of one more feed of this command will be due, drawn now (before
    /// signing: a grant's `valid_from` is rounded up from it, so that a consent is never in force
    /// while it waits unsent); the next [`Outbox::dispatch`] uses it for that feed.
    pub fn draw_due(&mut self, now_ms: u64) -> u64 {
        let spread = self.settings.spread_ms.unwrap_or(0);
        let at = *self.drawn_at.get_or_insert(now_ms);
        if spread == 0 {
            return at;
        }
        let d = OsDraw.up_to(spread);
        self.drawn.push(d);
        at.saturating_add(d)
    }

    /// Whether the queue holds entries of `feed`.
    pub fn holds(&self, ks: &Keystore, feed: &FeedId) -> anyhow::Result<bool> {
        Ok(queue::load(&self.path, ks.master())?
            .last_of(feed)
            .is_some())
    }

    /// The entries of `feed` queued, by seq.
    pub fn queued_in(&self, ks: &Keystore, feed: &FeedId) -> anyhow::Result<Vec<(Entry, Queued)>> {
        let q = queue::load(&self.path, ks.master())?;
        Ok(q.of_feed(feed)
            .into_iter()
            .map(|(i, e)| (e, q.items[i].clone()))
            .collect())
    }

    /// The queued entry `id` (waiting, or set aside for a conflict), if any.
    pub fn find_queued(&self, ks: &Keystore, id: &EntryId) -> anyhow::Result<Option<Entry>> {
        let q = queue::load(&self.path, ks.master())?;
        Ok(q.items
            .iter()
            .chain(&q.held)
            .filter_map(|item| item.decode().ok())
            .find(|e| e.id == *id))
    }

    /// Withdraws the queued entry `id` unseen: when neither it nor an entry of its feed after it
    /// was ever handed to a node, and no withdrawal is queued after it, it leaves the queue with
    /// the entries of its feed after it (they chain on it), and nothing of it was ever public; an entry set aside for a conflict (never
    /// to be sent) leaves with the held entries after it. Returns what left, by seq (`id`'s
    /// first); `None` when `id` is not queued or may have reached a node (then it is revoked
    /// like any grant).
    pub fn cancel(
        &self,
        ks: &mut Keystore,
        id: &EntryId,
    ) -> anyhow::Result<Option<Vec<(Entry, Queued)>>> {
        let mut q = queue::load(&self.path, ks.master())?;
        let gone = match q.find(id) {
            Some(at) => {
                let entry = q.items[at].decode().map_err(anyhow::Error::msg)?;
                // Handed to a node, or a withdrawal queued after it (it would be dropped with
                // it): revoked behind them instead.
                if !q.withdrawable(&entry.feed, entry.seq) {
                    return Ok(None);
                }
                q.drop_from(&entry.feed, entry.seq)
            }
            None => q.drop_held(id),
        };
        if gone.is_empty() {
            return Ok(None);
        }
        // Remembered in the keystore first: a restored or older queue file never sends them.
        for (e, item) in &gone {
            send::note_unsent(ks, e, item);
        }
        ks.save()?;
        queue::save(&self.path, ks.master(), &q)?;
        Ok(Some(gone))
    }

    /// The pairwise feed for `collector`, ready to sign in. When the queue holds entries of it,
    /// the feed's node is asked first (`send::settle`): entries it holds already count as sent;
    /// when the rest still follow its head, the feed resumes after the last queued entry (its
    /// key read from what the node and the queue say, not from the keystore's counter); entries
    /// that conflict with what it holds are held and nothing is signed, but a `withdrawal`,
    /// which is then signed at the node's head. When it cannot be asked, nothing is signed, but
    /// a withdrawal, which is chained after the queued entries and leaves with them (it is
    /// checked when sent). Else at the head `node` reports (`ctx::pairwise`); else, when no node
    /// knows it, a new feed whose inception goes with the entry signed next (not on its own),
    /// never after entries a node accepted (`send::unknown_feed`).
    pub async fn author(
        &mut self,
        node: &mut NodeConnection,
        ks: &mut Keystore,
        collector: &FeedId,
        withdrawal: bool,
    ) -> anyhow::Result<Resumed> {
        let feed = wallet::pairwise_feed(ks.master(), collector);
        let mut q = queue::load(&self.path, ks.master())?;
        if send::forget_unsent(ks, &mut q) {
            queue::save(&self.path, ks.master(), &q)?;
        }
        if let Some(why) = q.held_in(&feed)
            && !withdrawal
        {
            bail!(
                "your queued entries of this feed are held, NOT sent: {why}; nothing was signed: \
                 drop them first (consent queue shows their ids: consent queue --drop ID)"
            );
        }
        if !q.of_feed(&feed).is_empty() {
            let mut flushed = Flushed::default();
            let standing = match send::settle(node, ks, &mut q, &feed, &mut flushed).await {
                Ok(s) => s,
                Err(e) => Standing::Lagging(e.to_string()),
            };
            queue::save(&self.path, ks.master(), &q)?;
            report(&flushed, &[]);
            match standing {
                Standing::Ready { head } => {
                    if let Some(last) = q.last_of(&feed) {
                        return Ok(Self::resume_after(ks, &q, collector, &last, head.as_ref()));
                    }
                    // Every queued entry was on the node already: sign at its head.
                }
                Standing::Lagging(why) if withdrawal => {
                    if let Some(last) = q.last_of(&feed) {
                        eprintln!(
                            "consent: the queued entries of this feed could not be checked \
                             against {} ({why}); this withdrawal is chained after them and \
                             leaves with them",
                            node.url()
                        );
                        return Ok(Self::resume_after(ks, &q, collector, &last, None));
                    }
                }
                Standing::Lagging(why) => bail!(
                    "the queued entries of this feed could not be checked against {} ({why}); \
                     nothing was signed: try again (consent queue shows them)",
                    node.url()
                ),
                Standing::Conflict(why) if !withdrawal => bail!(
                    "your queued entries of this feed are held, NOT sent: {why}; nothing was \
                     signed: drop them first (consent queue shows their ids: consent queue --drop \
                     ID)"
                ),
                Standing::Conflict(_) => eprintln!(
                    "consent: this withdrawal is signed at the head {} holds; your held entries \
                     of this feed stay held (consent queue --drop ID drops them)",
                    node.url()
                ),
            }
        }
        if node.head(&feed).await?.is_none()
            && !send::unknown_feed(node, ks, collector, &feed).await?
        {
            // What ctx::pairwise journals for a new feed, without submitting its inception.
            let (author, inception) =
                wallet::pairwise_inception(ks.master(), collector).map_err(anyhow::Error::msg)?;
            let state = ks
                .state
                .pairwise
                .entry(collector.typed(Role::Collector).to_string())
                .or_default();
            state.journal_from.get_or_insert(0);
            if !state.signed.contains(&inception.id.to_string()) {
                state.signed.push(inception.id.to_string());
            }
            ks.save()?;
            let prev_ms = inception.time_ms;
            return Ok(Resumed {
                author,
                inception: Some(inception),
                prev_ms,
            });
        }
        let author = ctx::pairwise_for(node, ks, collector, withdrawal).await?;
        let prev_ms = node.entry(&author.head()).await?.map_or(0, |e| e.time_ms);
        Ok(Resumed {
            author,
            inception: None,
            prev_ms,
        })
    }

    /// The feed resumed after its last queued entry `last`. The key signing next is the one in
    /// force after the queue: a queued rotation's, else the node's current one (`head`), else a
    /// queued inception's; the keystore's counter only when none is known (the counter is set
    /// to what was found).
    fn resume_after(
        ks: &mut Keystore,
        q: &queue::Queue,
        collector: &FeedId,
        last: &Entry,
        head: Option<&consent_proto::pb::GetHeadResponse>,
    ) -> Resumed {
        let feed = last.feed;
        let in_force: Option<Vec<u8>> = q
            .of_feed(&feed)
            .iter()
            .rev()
            .find_map(|(_, e)| match &e.body {
                Body::Rotation(r) => Some(r.signing_key.to_bytes().to_vec()),
                Body::Inception(i) => Some(i.signing_key.to_bytes().to_vec()),
                _ => None,
            })
            .or_else(|| head.map(|h| h.signing_key.to_vec()));
        let key_name = collector.typed(Role::Collector).to_string();
        let recorded = ks.state.pairwise.get(&key_name).map_or(0, |f| f.rotations);
        let shared: &Keystore = ks;
        let rotations = in_force
            .and_then(|key| {
                ctx::current_rotation(&key, recorded, |n| {
                    ctx::pairwise_key(shared, collector, n).public().to_bytes()
                })
            })
            .unwrap_or(recorded);
        ks.state.pairwise.entry(key_name).or_default().rotations = rotations;
        let author = Author::resume(
            Role::Citizen,
            ctx::pairwise_key(ks, collector, rotations),
            ctx::pairwise_key(ks, collector, rotations + 1),
            feed,
            last.seq,
            last.id,
        );
        Resumed {
            author,
            inception: None,
            prev_ms: last.time_ms,
        }
    }

    /// Plans, queues and sends a command's `items` (each feed's in feed order) over the
    /// setting's window.
    pub async fn dispatch(
        &mut self,
        g: &Global,
        ks: &Keystore,
        items: Vec<Item>,
    ) -> anyhow::Result<Vec<Fate>> {
        let spread = self.settings.spread_ms.unwrap_or(0);
        self.dispatch_over(g, ks, items, spread).await
    }

    /// [`Outbox::dispatch`] over a window of `spread_ms`. An entry due now that a node refuses is
    /// an error (as when it was sent directly); one that must leave at once and cannot is an
    /// error too: when nothing of its feed waits it was not queued (sign it again), else it stays
    /// queued behind the entries of its feed that could not be sent, and leaves with them.
    pub async fn dispatch_over(
        &mut self,
        g: &Global,
        ks: &Keystore,
        items: Vec<Item>,
        spread_ms: u64,
    ) -> anyhow::Result<Vec<Fate>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = queue::load(&self.path, ks.master())?;
        let mut feeds: Vec<FeedId> = Vec::new();
        for it in &items {
            if !feeds.contains(&it.entry.feed) {
                feeds.push(it.entry.feed);
            }
        }
        let mut waiting_at: Vec<usize> = Vec::new();
        let mut waiting: Vec<Waiting<FeedId>> = Vec::new();
        for f in &feeds {
            for (i, _) in q.of_feed(f) {
                waiting_at.push(i);
                waiting.push(Waiting {
                    feed: *f,
                    due_ms: q.items[i].due_ms,
                });
            }
        }
        let outgoing: Vec<Outgoing<FeedId>> = items
            .iter()
            .map(|it| Outgoing {
                feed: it.entry.feed,
                at_once: it.at_once,
            })
            .collect();
        // The moment the delays drawn before signing count from (a grant's valid_from was
        // rounded up from it), else now.
        let now = self
            .drawn_at
            .take()
            .unwrap_or_else(time::now_ms)
            .min(time::now_ms());
        let plan = schedule::plan(
            &outgoing,
            &waiting,
            now,
            spread_ms,
            &mut Drawn(&mut self.drawn),
        );
        self.drawn.clear();
        let urls: Vec<String> = items
            .iter()
            .map(|it| feed_url(&g.node, ks, &it.entry.feed))
            .collect();
        // Everything goes through the queue, what is due now included (sent just below, each
        // feed to its node): what became of it is recorded, one a node holds pending or whose
        // answer was lost is sent again and never signed beside, and a withdrawal its node does
        // not take goes to `--node` (re-reviews N2, H1, R1).
        for (k, &i) in waiting_at.iter().enumerate() {
            q.items[i].due_ms = plan.waiting_due_ms[k];
        }
        for ((it, due), url) in items.iter().zip(&plan.due_ms).zip(&urls) {
            let collector = it.collector.typed(Role::Collector).to_string();
            q.push(Queued::new(&it.entry, &collector, it.what, *due, url))?;
        }
        queue::save(&self.path, ks.master(), &q)?;
        // This command's own feeds go if due; a withdrawal sends nothing else on its way.
        let pick = if self.withdrawal || self.ran {
            Pick::Own(time::now_ms(), feeds.clone())
        } else {
            Pick::DueWith(time::now_ms(), feeds.clone())
        };
        let flushed = send_queued(ks, &mut self.nodes, pick).await?;
        let own: Vec<EntryId> = items.iter().map(|it| it.entry.id).collect();
        report(&flushed, &own);
        if let Some(at) = flushed
            .dropped
            .iter()
            .position(|(e, ..)| own.contains(&e.id))
        {
            send::forget_refusals(ks, &own)?;
            let (_, _, err) = flushed
                .dropped
                .into_iter()
                .nth(at)
                .expect("the position just found");
            return Err(err.into());
        }
        if let Some(err) = send::abandoned_or_held(&flushed, &own) {
            return Err(err);
        }
        let mut fates = Vec::new();
        for ((it, due), url) in items.iter().zip(&plan.due_ms).zip(&urls) {
            if let Some((_, _, to)) = flushed.sent.iter().find(|(e, ..)| e.id == it.entry.id) {
                fates.push(Fate::Sent { node: to.clone() });
                continue;
            }
            if it.at_once {
                let why = flushed
                    .kept
                    .iter()
                    .find(|(e, ..)| e.feed == it.entry.feed)
                    .map(|(_, _, why)| why.clone())
                    .unwrap_or_else(|| "an earlier entry of its feed could not be sent".into());
                bail!(
                    "your {} {} is NOT in effect yet: it could not be sent ({why}); it stays in \
                     the send queue right behind the entries of its feed it follows, and leaves \
                     with the next consent command that reaches the node, or now: consent queue \
                     --send-now",
                    it.what,
                    it.entry.id
                );
            }
            if let Some((.., why)) = flushed.kept.iter().find(|(e, ..)| e.id == it.entry.id) {
                eprintln!(
                    "consent: your {} {} could not be sent now ({why}); it stays in the send queue",
                    it.what, it.entry.id
                );
            }
            fates.push(Fate::Queued {
                due_ms: *due,
                node: url.clone(),
            });
        }
        Ok(fates)
    }
}

/// Says in one line, for a command's output, when an entry it signed leaves.
pub fn fate_text(what: &str, fate: &Fate) -> String {
    match fate {
        Fate::Sent { node } => format!("The {what} was sent to {node}."),
        Fate::Queued { due_ms, node } => format!(
            "The {what} is queued: it is sent {} (to {node}), by the first consent command that \
             runs then: nothing sends it unless one runs (a timer running `consent queue` does it \
             on time, see README, Privacy; `consent queue --send-now` sends it now).",
            crate::send::when(*due_ms)
        ),
    }
}
