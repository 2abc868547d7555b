//! Consultations on collectors' policy versions (the node's public `Consultations` service), and
//! which policy version is in effect: a version that widens what is collected is a *draft* until
//! a registrar approves it after its public consultation (crate docs of consent-proto,
//! "Consultations").

use consent_proto::body::{Body, Policy};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb;
use consent_proto::pb::consultations_client::ConsultationsClient;
use prost::bytes::Bytes;
use tonic::Code;

use super::{ClientError, NodeConnection, within};

impl NodeConnection {
    /// A page of consultations: of one collector (oldest first) or of every collector (closing
    /// first); only the open ones with `open_only`. `page_token`: empty for the first page, then
    /// the response's `next_page_token` (empty: no more). `page_size` 0 asks for the node's
    /// default (50; at most 200).
    pub async fn list_consultations(
        &mut self,
        collector: Option<&FeedId>,
        open_only: bool,
        page_token: &[u8],
        page_size: u32,
    ) -> Result<pb::ListConsultationsResponse, ClientError> {
        let request = pb::ListConsultationsRequest {
            collector: collector.map_or_else(Bytes::new, |c| Bytes::copy_from_slice(&c.0)),
            open_only,
            page_token: Bytes::copy_from_slice(page_token),
            page_size,
        };
        let mut client = ConsultationsClient::new(self.channel.clone());
        let answer = within(self.call_timeout, client.list_consultations(request)).await;
        match answer {
            None => Err(self.stalled("the consultations")),
            Some(Ok(r)) => Ok(r.into_inner()),
            Some(Err(s)) => Err(self.refused("the consultations", s).await),
        }
    }

    /// Every consultation [`NodeConnection::list_consultations`] gives, all pages.
    pub async fn all_consultations(
        &mut self,
        collector: Option<&FeedId>,
        open_only: bool,
    ) -> Result<Vec<pb::ConsultationSummary>, ClientError> {
        let mut out = Vec::new();
        let mut token = Vec::new();
        loop {
            let page = self
                .list_consultations(collector, open_only, &token, 200)
                .await?;
            out.extend(page.consultations);
            if page.next_page_token.is_empty() || page.next_page_token[..] == token[..] {
                return Ok(out);
            }
            token = page.next_page_token.to_vec();
        }
    }

    /// One consultation: its summary and counts, the draft, what it was compared with, the
    /// collector's latest response per objection reason and the registrars' outcomes; `None`
    /// when `draft` is no Policy entry with a consultation (or the node does not hold it).
    pub async fn get_consultation(
        &mut self,
        draft: &EntryId,
    ) -> Result<Option<pb::Consultation>, ClientError> {
        let request = pb::GetConsultationRequest {
            draft: Bytes::copy_from_slice(&draft.0),
        };
        let mut client = ConsultationsClient::new(self.channel.clone());
        let answer = within(self.call_timeout, client.get_consultation(request)).await;
        match answer {
            None => Err(self.stalled("the consultation")),
            Some(Ok(r)) => Ok(Some(r.into_inner())),
            Some(Err(s)) if s.code() == Code::NotFound => Ok(None),
            Some(Err(s)) => Err(self.refused("the consultation", s).await),
        }
    }

    /// The collector's newest (highest-version) policy and its entry id, in effect or not (a
    /// draft under consultation included): the version its next one must exceed.
    pub async fn newest_policy(
        &mut self,
        collector: &FeedId,
    ) -> Result<Option<(EntryId, Policy)>, ClientError> {
        Ok(self.policies(collector).await?.pop())
    }

    /// The collector's policy in effect now, and its entry id: the newest version that is no
    /// draft, or a draft a registrar approved. A citizen grants under it.
    pub async fn current_policy(
        &mut self,
        collector: &FeedId,
    ) -> Result<Option<(EntryId, Policy)>, ClientError> {
        let now = crate::time::now_ms();
        let mut versions = self.policies(collector).await?;
        while let Some((id, policy)) = versions.pop() {
            if policy.consultation.is_none() {
                return Ok(Some((id, policy)));
            }
            let summary = self.get_consultation(&id).await?.and_then(|c| c.summary);
            if summary.as_ref().is_some_and(|s| in_effect(s, now)) {
                return Ok(Some((id, policy)));
            }
        }
        Ok(None)
    }

    /// The collector's Policy entries, oldest first.
    async fn policies(
        &mut self,
        collector: &FeedId,
    ) -> Result<Vec<(EntryId, Policy)>, ClientError> {
        Ok(self
            .feed(collector)
            .await?
            .into_iter()
            .filter_map(|e| match e.body {
                Body::Policy(p) => Some((e.id, p)),
                _ => None,
            })
            .collect())
    }
}

/// Whether the version a consultation is about is in effect at `now_ms`: a voluntary
/// consultation (the version does not widen) always; a draft once approved, from the outcome's
/// time on. A summary the node could not say (an unknown state) is not in effect: fail closed.
pub fn in_effect(summary: &pb::ConsultationSummary, now_ms: u64) -> bool {
    if !summary.widening {
        return true;
    }
    summary.state() == pb::ConsultationState::Approved && summary.state_ms <= now_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_is_in_effect_only_from_its_approval() {
        let summary =
            |widening: bool, state: pb::ConsultationState, state_ms: u64| pb::ConsultationSummary {
                widening,
                state: state as i32,
                state_ms,
                ..Default::default()
            };
        use pb::ConsultationState as S;
        // A voluntary consultation: in effect whatever its state.
        assert!(in_effect(&summary(false, S::Open, 0), 10));
        assert!(in_effect(&summary(false, S::ChangesRequired, 5), 10));
        // A draft: only approved, and only from the approval on.
        for state in [
            S::Open,
            S::AwaitingOutcome,
            S::ChangesRequired,
            S::Withdrawn,
        ] {
            assert!(!in_effect(&summary(true, state, 5), 10), "{state:?}");
        }
        assert!(in_effect(&summary(true, S::Approved, 10), 10));
        assert!(!in_effect(&summary(true, S::Approved, 11), 10));
        // A state this release does not know: not in effect.
        let unknown = pb::ConsultationSummary {
            widening: true,
            state: 99,
            ..Default::default()
        };
        assert!(!in_effect(&unknown, 10));
    }
}
