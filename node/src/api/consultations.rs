//! `consent.v1.Consultations`: public consultations on collectors' policy versions. No session:
//! everything here is public ledger content; each call is one short public read on a blocking
//! thread ([`super::blocking::read`], as `Ledger.GetEntry`). Counts are exact (stances are
//! public entries); they are signals to the registrar, not votes.

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb;
use consent_proto::policy_change;
use prost::bytes::Bytes;
use tonic::{Request, Response, Status};

use super::blocking::read;
use super::error;
use crate::ledger::{ConsultationFilter, ConsultationRead, ConsultationSummary, Ledger};

/// Consultations in a page when the request asks for none.
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 50;
/// Most consultations in a page.
pub(crate) const MAX_PAGE_SIZE: u32 = 200;

/// The Consultations service.
pub(crate) struct ConsultationsService {
    ledger: Ledger,
}

impl ConsultationsService {
    /// Serves `ledger`'s consultations.
    pub(crate) fn new(ledger: Ledger) -> Self {
        Self { ledger }
    }
}

/// A summary's wire form.
pub(crate) fn summary_to_wire(s: &ConsultationSummary) -> pb::ConsultationSummary {
    pb::ConsultationSummary {
        draft: Bytes::copy_from_slice(&s.facts.id.0),
        collector: Bytes::copy_from_slice(&s.facts.collector.0),
        version: s.facts.version,
        name: s.name.clone(),
        opened_ms: s.facts.time_ms,
        closes_ms: s.facts.closes_ms,
        widening: s.facts.gated,
        state: s.state.to_wire() as i32,
        state_ms: s.state.at_ms(),
        counts: Some(s.counts.to_wire()),
    }
}

/// What the draft changes from `earlier` (both Policy entries; else nothing).
fn comparison(earlier: &Entry, draft: &Entry) -> Option<pb::Comparison> {
    let (Body::Policy(old), Body::Policy(new)) = (&earlier.body, &draft.body) else {
        return None;
    };
    Some(pb::Comparison {
        policy: Bytes::copy_from_slice(&earlier.id.0),
        version: old.version,
        items: policy_change::compare(old, new)
            .items
            .iter()
            .map(|item| item.to_wire())
            .collect(),
    })
}

/// A consultation's wire form, as of `time_ms`.
fn to_wire(read: &ConsultationRead, time_ms: u64) -> pb::Consultation {
    pb::Consultation {
        summary: Some(summary_to_wire(&read.summary)),
        draft: Some(read.draft.to_signed()),
        compared: read
            .compared
            .iter()
            .filter_map(|earlier| comparison(earlier, &read.draft))
            .collect(),
        responses: read.responses.iter().map(Entry::to_signed).collect(),
        outcomes: read.outcomes.iter().map(Entry::to_signed).collect(),
        log_size: read.log_size,
        time_ms,
    }
}

#[tonic::async_trait]
impl pb::consultations_server::Consultations for ConsultationsService {
    async fn list_consultations(
        &self,
        request: Request<pb::ListConsultationsRequest>,
    ) -> Result<Response<pb::ListConsultationsResponse>, Status> {
        let r = request.into_inner();
        let collector = match r.collector.len() {
            0 => None,
            _ => Some(FeedId(error::id32("collector", &r.collector)?)),
        };
        let limit = match r.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n <= MAX_PAGE_SIZE => n,
            n => return Err(error::page_size(n, MAX_PAGE_SIZE)),
        } as usize;
        let filter = ConsultationFilter {
            collector,
            open_only: r.open_only,
            after: (!r.page_token.is_empty()).then(|| r.page_token.to_vec()),
            limit,
        };
        if !filter.token_valid() {
            return Err(error::bad_page_token());
        }
        let (ledger, now) = (self.ledger.clone(), self.ledger.now_ms());
        let (page, next) =
            read(move || ledger.consultations(&filter, now).map_err(Status::from)).await?;
        Ok(Response::new(pb::ListConsultationsResponse {
            consultations: page.iter().map(summary_to_wire).collect(),
            next_page_token: next.map(Bytes::from).unwrap_or_default(),
        }))
    }

    async fn get_consultation(
        &self,
        request: Request<pb::GetConsultationRequest>,
    ) -> Result<Response<pb::Consultation>, Status> {
        let draft = EntryId(error::id32("draft", &request.into_inner().draft)?);
        let (ledger, now) = (self.ledger.clone(), self.ledger.now_ms());
        let found = read(move || ledger.consultation(&draft, now).map_err(Status::from)).await?;
        match found {
            Some(consultation) => Ok(Response::new(to_wire(&consultation, now))),
            None => Err(error::no_consultation(&draft)),
        }
    }
}
