//! Answering checks: from the cache's facts by the protocol's own rule while the stream is live
//! and fresh, else from the node, denying when neither can answer.

use std::time::Duration;

use consent_proto::decide::{self, Query};
use consent_proto::delegation::DelegationUsed;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb::{Decision, Reason};
use consent_proto::scope::Context;
use consent_proto::vocab::{DataCategory, Form, Purpose};

use super::{Answer, Cached, DecisionCache, Source, Stale};
use crate::collector::Collector;

impl DecisionCache {
    /// Decides now, from memory. A subject never heard of is denied.
    pub fn check(
        &self,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
    ) -> Result<Cached, Stale> {
        self.check_at(subject, purpose, category, crate::time::now_ms())
    }

    /// Decides for time `at_ms` (Unix ms), from memory, with no observation context (a grant
    /// whose scope needs some is denied with the `CONTEXT_MISSING_*` reason).
    pub fn check_at(
        &self,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
        at_ms: u64,
    ) -> Result<Cached, Stale> {
        self.check_with(subject, purpose, category, &Context::NONE, at_ms)
    }

    /// Decides for time `at_ms` (Unix ms), from memory, about the observation `context` (its
    /// sensor with the sensor's kind, cell, time and the form it would be kept in): the node's
    /// rule, scopes included. Build it with a sensor kind only beside a sensor id: the node
    /// refuses a kind alone (INVALID_ARGUMENT), and the rule reads it as no sensor.
    pub fn check_with(
        &self,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
        context: &Context,
        at_ms: u64,
    ) -> Result<Cached, Stale> {
        let facts = self.read().map_err(|_| Stale::NotLive)?;
        if !facts.live {
            return Err(Stale::NotLive);
        }
        // The protocol's freshness rule, with the stream's last event or heartbeat as the last
        // contact; counted on the monotonic clock (a wall clock can jump): the last contact at
        // 1 ms, now at 1 ms plus its age (0: never heard).
        let age = facts.heard.map(|t| t.elapsed());
        let demand = decide::Demand {
            // At least 1 ms: to the rule 0 means no demand, to the cache it means never answer.
            max_staleness_ms: u64::try_from(self.0.config.max_stream_age.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            min_subject_seq: 0,
        };
        let age_ms = age.map_or(u64::MAX, |a| {
            u64::try_from(a.as_millis()).unwrap_or(u64::MAX)
        });
        let last_contact_ms = u64::from(age.is_some());
        if !decide::fresh(&demand, None, last_contact_ms, age_ms.saturating_add(1)) {
            return Err(Stale::TooOld(age.unwrap_or(Duration::MAX)));
        }
        let deny = |reason| Cached {
            decision: Decision::Deny,
            reason,
            grant: None,
            required_form: None,
            position: facts.position,
        };
        if !facts.frozen.is_empty() {
            if facts.frozen.contains(&subject) {
                return Ok(deny(Reason::SubjectFrozen));
            }
            if facts.frozen.contains(&self.0.me) {
                return Ok(deny(Reason::CollectorFrozen));
            }
        }
        if !decide::accredited(at_ms, &facts.accreditations, &facts.registrars) {
            return Ok(deny(Reason::CollectorNotAccredited));
        }
        let query = Query {
            subject,
            collector: self.0.me,
            purpose,
            category,
            at_ms,
            context: *context,
        };
        if let Some(draft) = facts.subjects.get(&subject).and_then(|s| s.draft) {
            return Err(Stale::Draft(draft));
        }
        if let Some(signed) = facts.subjects.get(&subject).and_then(|s| s.delegated) {
            return Err(Stale::Delegated(signed));
        }
        let (decision, reason, grant, required_form) = match facts.subjects.get(&subject) {
            Some(s) => decide::decide_grants(&query, &s.grants, s.opt_out_seq),
            None => (Decision::Deny, Reason::NoGrant, None, None),
        };
        Ok(Cached {
            decision,
            reason,
            grant,
            required_form,
            position: facts.position,
        })
    }

    /// Decides from the cache if it is fresh, else asks the node through `collector`; denies
    /// (with the reason in [`Source::FailedClosed`]) when neither can answer.
    pub async fn check_or_ask(
        &self,
        collector: &mut Collector,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
    ) -> Answer {
        self.check_or_ask_with(collector, subject, purpose, category, &Context::NONE)
            .await
    }

    /// [`DecisionCache::check_or_ask`] about the observation `context`, now: from the cache
    /// ([`DecisionCache::check_with`]) if it is fresh, else from the node with the same context.
    pub async fn check_or_ask_with(
        &self,
        collector: &mut Collector,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
        context: &Context,
    ) -> Answer {
        let now = crate::time::now_ms();
        let stale = match self.check_with(subject, purpose, category, context, now) {
            Ok(c) => {
                return Answer {
                    decision: c.decision,
                    reason: c.reason,
                    grant: c.grant,
                    required_form: c.required_form,
                    delegated: None,
                    source: Source::Cache {
                        position: c.position,
                    },
                };
            }
            Err(stale) => stale,
        };
        match collector
            .check_with(subject, purpose, category, context)
            .await
        {
            Ok(r) => Answer {
                decision: r.decision(),
                reason: r.reason(),
                grant: r.grant.as_ref().try_into().ok().map(EntryId),
                required_form: Form::from_wire(r.required_form),
                delegated: r.delegated.as_ref().and_then(DelegationUsed::from_wire),
                source: Source::Node { stale },
            },
            Err(e) => Answer {
                decision: Decision::Deny,
                reason: Reason::NodeNotFresh,
                grant: None,
                required_form: None,
                delegated: None,
                source: Source::FailedClosed(format!("{stale}; asking the node failed: {e}")),
            },
        }
    }
}
