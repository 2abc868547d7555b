//! What the site reads: the ledger (answer times, delegated consents, consultations), the
//! register the follower builds, and the network's facts; and what it keeps in memory so that
//! pages do not read the store on every request (answer times and delegated consents for a few
//! seconds, zone maps and consultations' first changes for good: signed entries never change).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use consent_proto::ids::{EntryId, FeedId};
use consent_proto::keys::SecretKey;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::html::{self, Frame};
use super::view::{
    self, ChangeView, CollectorFacts, CollectorView, ConsultationSummaryView, ConsultationView,
    DelegatedView,
};
use super::{CONSULTATIONS_PAGE, MAX_CONSULTATION_PAGES, PAGE_SIZE, map, network, register};
use crate::ledger::{ANSWER_DEADLINE, AnswerStats, ConsultationFilter, Ledger, LedgerError};

/// What the site reads.
pub(crate) struct Site {
    /// The ledger (answer times).
    pub ledger: Ledger,
    /// The register.
    pub register: register::Shared,
    /// Network facts.
    pub network: network::Sources,
    /// Counts below this are published as "< k".
    pub k: u64,
    /// Answer times by collector, recomputed at most every [`ANSWERS_FRESH`].
    answers: std::sync::Mutex<HashMap<FeedId, (Instant, AnswerStats)>>,
    /// Delegated consents by collector, recomputed at most every [`ANSWERS_FRESH`].
    delegated: std::sync::Mutex<HashMap<FeedId, (Instant, DelegatedView)>>,
    /// Zone maps by policy entry (a policy never changes, so neither does its map).
    maps: std::sync::Mutex<HashMap<EntryId, Arc<str>>>,
    /// The first changes of each consultation listed (signed entries never change).
    headlines: std::sync::Mutex<HashMap<EntryId, Arc<[ChangeView]>>>,
}

/// How long a collector's answer times and delegated consents are served from memory (reading
/// them costs store reads).
const ANSWERS_FRESH: Duration = Duration::from_secs(10);
/// Collectors whose answer times (and, apart, delegated consents) are kept in memory at once.
const ANSWERS_KEPT: usize = 10_000;
/// Zone maps kept in memory at once (each at most ~100 KiB: 512 cells).
const MAPS_KEPT: usize = 256;
/// Consultations whose first changes are kept in memory at once (three sentences each).
const HEADLINES_KEPT: usize = 4096;

impl Site {
    /// Starts building the register (from its saved form in `data_dir`, keyed with `node_key`,
    /// and the log) and following the ledger into it: a task on `tasks` until `cancel`, which
    /// saves it then.
    pub(crate) fn start(
        ledger: Ledger,
        network: network::Sources,
        k: u64,
        data_dir: &Path,
        node_key: &SecretKey,
        tasks: &TaskTracker,
        cancel: CancellationToken,
    ) -> Arc<Site> {
        let register = Arc::new(std::sync::RwLock::new(register::Register::new(
            ledger.registrars().clone(),
        )));
        // Subscribed before the follower reads anything, so nothing committed meanwhile is missed.
        let announced = ledger.accepted();
        tasks.spawn(register::follow(
            ledger.clone(),
            register.clone(),
            announced,
            Some(register::Saving {
                dir: data_dir.to_path_buf(),
                key: register::FileKey::of(node_key),
            }),
            cancel,
        ));
        Arc::new(Site {
            ledger,
            register,
            network,
            k,
            answers: Default::default(),
            delegated: Default::default(),
            maps: Default::default(),
            headlines: Default::default(),
        })
    }

    /// The collector's policy version in effect now (and the one before), for its register
    /// entry; `None` when none is (a read error is logged). Blocking.
    fn current(&self, collector: &register::Collector) -> Option<register::Current> {
        register::current_policy(&self.ledger, collector, self.ledger.now_ms())
            .inspect_err(|e| tracing::error!(error = %e, "transparency: cannot read a policy"))
            .ok()
            .flatten()
    }

    /// The SVG map of the zones of `feed`'s policy in effect; `None` if it declares no zone (or
    /// is not registered). Blocking (may read the policy from the store).
    pub(crate) fn zone_map(&self, feed: &FeedId) -> Option<Arc<str>> {
        let (id, scope, name) = {
            let register = self.register.read().ok()?;
            let current = self.current(register.collectors.get(feed)?)?.version;
            let scope = current.policy.scope.as_ref()?;
            if scope.zones.is_empty() {
                return None;
            }
            if let Ok(kept) = self.maps.lock()
                && let Some(map) = kept.get(&current.id)
            {
                return Some(Arc::clone(map));
            }
            (current.id, scope.clone(), current.policy.name.clone())
        };
        let map: Arc<str> = Arc::from(map::svg(&scope, &name));
        if let Ok(mut kept) = self.maps.lock() {
            if kept.len() >= MAPS_KEPT {
                kept.clear();
            }
            kept.insert(id, Arc::clone(&map));
        }
        Some(map)
    }

    fn names(&self) -> &BTreeMap<String, String> {
        &self.network.names
    }

    pub(super) fn frame(&self) -> Frame<'_> {
        let read = self.register.read().map(|r| r.read_to).unwrap_or(0);
        let total = self.ledger.stats().log_size;
        Frame {
            network_id: &self.network.network_id,
            k: self.k,
            catching_up: (read < total).then_some((read, total)),
        }
    }

    /// Whether the feed is frozen. Blocking (a store read).
    fn frozen(&self, feed: &FeedId) -> bool {
        matches!(self.ledger.head(feed), Ok(Some(state)) if state.frozen)
    }

    /// Page `page` (from 1) of the collectors, [`PAGE_SIZE`] to a page: named ones first (by
    /// name), then by id. Blocking: it reads whether each listed collector's feed is frozen
    /// (the handlers call it on a blocking thread: `collectors_page`).
    pub(crate) fn collectors(&self, page: usize) -> (Vec<CollectorView>, html::Paging) {
        let now = self.ledger.now_ms();
        let page = page.max(1);
        let Ok(register) = self.register.read() else {
            return (
                Vec::new(),
                html::Paging {
                    page,
                    pages: 1,
                    total: 0,
                },
            );
        };
        let (listed, total) = register.page(page - 1, PAGE_SIZE);
        let views = listed
            .into_iter()
            .map(|(feed, collector)| {
                CollectorFacts {
                    feed,
                    collector,
                    now_ms: now,
                    k: self.k,
                    names: self.names(),
                    frozen: self.frozen(&feed),
                    current: self.current(collector),
                }
                .summary()
            })
            .collect();
        let paging = html::Paging {
            page,
            pages: total.div_ceil(PAGE_SIZE).max(1),
            total,
        };
        (views, paging)
    }

    /// A collector's answer times: from memory when fresh, else read from the store (off the
    /// async threads).
    async fn answers(self: &Arc<Self>, feed: FeedId) -> Result<AnswerStats, String> {
        if let Ok(kept) = self.answers.lock()
            && let Some((at, stats)) = kept.get(&feed)
            && at.elapsed() < ANSWERS_FRESH
        {
            return Ok(stats.clone());
        }
        let (site, now) = (self.clone(), self.ledger.now_ms());
        let stats = tokio::task::spawn_blocking(move || site.ledger.answer_stats(&feed, now))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if let Ok(mut kept) = self.answers.lock() {
            if kept.len() >= ANSWERS_KEPT {
                kept.clear();
            }
            kept.insert(feed, (Instant::now(), stats.clone()));
        }
        Ok(stats)
    }

    /// A collector's consents signed by delegates (the ledger's count of its delegated grants,
    /// in force as the decision rule says at now): from memory when fresh, else read from the
    /// store (off the async threads).
    async fn delegated(self: &Arc<Self>, feed: FeedId) -> Result<DelegatedView, String> {
        if let Ok(kept) = self.delegated.lock()
            && let Some((at, view)) = kept.get(&feed)
            && at.elapsed() < ANSWERS_FRESH
        {
            return Ok(*view);
        }
        let (site, now) = (self.clone(), self.ledger.now_ms());
        let counts = tokio::task::spawn_blocking(move || site.ledger.delegated_counts(&feed, now))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let view = view::delegated_view(counts.assistant, counts.guardian, self.k);
        if let Ok(mut kept) = self.delegated.lock() {
            if kept.len() >= ANSWERS_KEPT {
                kept.clear();
            }
            kept.insert(feed, (Instant::now(), view));
        }
        Ok(view)
    }

    /// One collector with its answer times, delegated consents and policy history; `None` if not
    /// registered.
    pub(crate) async fn collector(
        self: &Arc<Self>,
        feed: &FeedId,
    ) -> Result<Option<CollectorView>, String> {
        let now = self.ledger.now_ms();
        let Some(ids) = self.register.read().ok().and_then(|r| {
            r.collectors
                .get(feed)
                .map(|c| c.policy_ids.iter().copied().collect::<Vec<_>>())
        }) else {
            return Ok(None);
        };
        let answers = self.answers(*feed).await?;
        let delegated = self.delegated(*feed).await?;
        // Its policy history beyond what the register keeps in memory, whether its feed is
        // frozen, and the version in effect, from the store.
        let (site, feed) = (self.clone(), *feed);
        tokio::task::spawn_blocking(move || -> Result<Option<CollectorView>, String> {
            let frozen = site.frozen(&feed);
            let history = register::read_policies(&site.ledger, &ids).map_err(|e| e.to_string())?;
            let register = site.register.read().map_err(|e| e.to_string())?;
            Ok(register.collectors.get(&feed).map(|collector| {
                let mut view = CollectorFacts {
                    feed,
                    collector,
                    now_ms: now,
                    k: site.k,
                    names: site.names(),
                    frozen,
                    current: site.current(collector),
                }
                .detail(&answers, ANSWER_DEADLINE, &history);
                view.delegated = Some(delegated);
                view
            }))
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// The first changes of consultation `draft`, from memory once read. Blocking.
    fn headline(&self, draft: &EntryId, now_ms: u64) -> Result<Vec<ChangeView>, LedgerError> {
        if let Ok(kept) = self.headlines.lock()
            && let Some(h) = kept.get(draft)
        {
            return Ok(h.to_vec());
        }
        let Some(read) = self.ledger.consultation(draft, now_ms)? else {
            return Ok(Vec::new());
        };
        let headline: Arc<[ChangeView]> =
            view::consultation_view(&read, now_ms, self.k, self.names())
                .map(|v| v.summary.changes)
                .unwrap_or_default()
                .into();
        if let Ok(mut kept) = self.headlines.lock() {
            if kept.len() >= HEADLINES_KEPT {
                kept.clear();
            }
            kept.insert(*draft, Arc::clone(&headline));
        }
        Ok(headline.to_vec())
    }

    /// Page `page` (from 1, at most [`MAX_CONSULTATION_PAGES`]) of the consultations:
    /// `open_only` those open now (closing first), else all (of `collector`: oldest first; of
    /// every collector: closing first), and whether more follow. Blocking.
    pub(crate) fn consultations(
        &self,
        collector: Option<FeedId>,
        open_only: bool,
        page: usize,
    ) -> Result<(Vec<ConsultationSummaryView>, bool), LedgerError> {
        let now = self.ledger.now_ms();
        let mut filter = ConsultationFilter {
            collector,
            open_only,
            after: None,
            limit: CONSULTATIONS_PAGE,
        };
        for _ in 1..page.clamp(1, MAX_CONSULTATION_PAGES) {
            match self.ledger.consultations(&filter, now)?.1 {
                Some(after) => filter.after = Some(after),
                None => return Ok((Vec::new(), false)),
            }
        }
        let (listed, next) = self.ledger.consultations(&filter, now)?;
        let mut views = Vec::with_capacity(listed.len());
        for s in &listed {
            let changes = self.headline(&s.facts.id, now)?;
            views.push(view::consultation_summary(s, changes, now, self.k));
        }
        Ok((views, next.is_some()))
    }

    /// One consultation in full; `None` if `draft` is not a policy version put to consultation.
    /// Blocking.
    pub(crate) fn consultation(
        &self,
        draft: &EntryId,
    ) -> Result<Option<ConsultationView>, LedgerError> {
        let now = self.ledger.now_ms();
        Ok(self
            .ledger
            .consultation(draft, now)?
            .and_then(|read| view::consultation_view(&read, now, self.k, self.names())))
    }
}

/// [`Site::collectors`] on a blocking thread; `None` if the node is stopping.
pub(super) async fn collectors_page(
    site: &Arc<Site>,
    page: Option<usize>,
) -> Option<(Vec<CollectorView>, html::Paging)> {
    let site = Arc::clone(site);
    tokio::task::spawn_blocking(move || site.collectors(page.unwrap_or(1)))
        .await
        .ok()
}

/// [`Site::consultation`] on a blocking thread.
pub(super) async fn consultation_of(
    site: &Arc<Site>,
    draft: EntryId,
) -> Result<Option<ConsultationView>, String> {
    let site = Arc::clone(site);
    tokio::task::spawn_blocking(move || site.consultation(&draft))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}
