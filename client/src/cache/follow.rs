//! Following the collector's watch stream on a task: applying its events, fetching a grant's
//! policy the cache lacks first, and resuming from the cursor after a disconnect, until every
//! other handle to the cache is dropped.

use std::sync::{Arc, Weak};
use std::time::Duration;

use consent_proto::ids::EntryId;

use super::{DecisionCache, Inner};
use crate::collector::Collector;

impl DecisionCache {
    /// Follows `collector`'s watch stream on a task until every other handle to the cache is
    /// dropped, resuming from the cursor after any disconnect (backing off up to
    /// [`CacheConfig::max_backoff`](super::CacheConfig::max_backoff)).
    pub fn follow(&self, collector: Collector) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.0);
        tokio::spawn(follow(weak, collector))
    }
}

async fn follow(weak: Weak<Inner>, mut collector: Collector) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(cache) = weak.upgrade().map(DecisionCache) else {
            return;
        };
        let config = cache.0.config;
        let heartbeat = u32::try_from(config.heartbeat.as_millis()).unwrap_or(60_000);
        let cursor = cache.cursor();
        drop(cache);
        match collector
            .watch_with(cursor, heartbeat.clamp(100, 60_000), true)
            .await
        {
            Ok(mut stream) => loop {
                // Time out if even heartbeats stop: the connection is dead.
                let next = tokio::time::timeout(config.max_stream_age * 2, stream.message()).await;
                let Some(cache) = weak.upgrade().map(DecisionCache) else {
                    return;
                };
                match next {
                    Ok(Ok(Some(event))) => {
                        // A grant under a policy the cache has not seen: fetch it first.
                        if let Some(policy) = cache.missing_policy(&event) {
                            let wait = config.max_stream_age * 2;
                            if let Err(why) =
                                fetch_policy(&cache, &mut collector, policy, wait).await
                            {
                                tracing::warn!(
                                    %policy,
                                    error = %why,
                                    "decision cache: cannot fetch a grant's policy"
                                );
                                break;
                            }
                        }
                        match cache.apply(&event) {
                            Ok(()) => backoff = Duration::from_millis(100),
                            Err(e) => {
                                tracing::warn!(error = %e, "decision cache: bad watch event");
                                break;
                            }
                        }
                    }
                    Ok(Ok(None)) => break,
                    Ok(Err(status)) => {
                        tracing::warn!(%status, "decision cache: watch ended");
                        break;
                    }
                    Err(_) => {
                        tracing::warn!("decision cache: watch stream silent, reconnecting");
                        break;
                    }
                }
            },
            Err(e) => tracing::warn!(error = %e, "decision cache: cannot watch"),
        }
        match weak.upgrade() {
            Some(inner) => DecisionCache(inner).disconnected(),
            None => return,
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(config.max_backoff);
    }
}

/// Fetches the collector's policy `id` from the node behind `collector` and adds it to `cache`.
async fn fetch_policy(
    cache: &DecisionCache,
    collector: &mut Collector,
    id: EntryId,
    timeout: Duration,
) -> Result<(), String> {
    let entry = match tokio::time::timeout(timeout, collector.entry(id)).await {
        Err(_) => return Err(format!("no answer within {timeout:?}")),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(None)) => return Err("the node does not hold it".to_string()),
        Ok(Ok(Some(entry))) => entry,
    };
    cache.add_policy(&entry).map_err(|e| e.to_string())
}
