//! What a watch stream sends: its [`Cursor`] (where it stands, in wire form) and the event for
//! an entry of the collector's watch index.

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb;
use prost::bytes::Bytes;
use tonic::Status;

use crate::api::error;
use crate::ledger::Ledger;

/// Where a stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Cursor {
    /// First arrival index not yet covered.
    pub next_index: u64,
    /// Expiries at or before this time are covered.
    pub expired_through: u64,
    /// First freeze number not yet covered.
    pub next_freeze: u64,
}

impl Cursor {
    /// Parses a cursor (empty: the beginning).
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, Status> {
        if bytes.is_empty() {
            return Ok(Self::default());
        }
        if bytes.len() != 24 {
            return Err(error::cursor_length(bytes.len()));
        }
        let part = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i * 8..(i + 1) * 8]);
            u64::from_be_bytes(b)
        };
        Ok(Self {
            next_index: part(0),
            expired_through: part(1),
            next_freeze: part(2),
        })
    }

    /// Its wire form.
    pub(crate) fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(24);
        out.extend_from_slice(&self.next_index.to_be_bytes());
        out.extend_from_slice(&self.expired_through.to_be_bytes());
        out.extend_from_slice(&self.next_freeze.to_be_bytes());
        Bytes::from(out)
    }
}

/// The draft a stance is about.
pub(super) fn stance_draft(entry: &Entry) -> Option<EntryId> {
    match &entry.body {
        Body::Stance(s) => Some(s.draft),
        _ => None,
    }
}

/// The consultation an entry of the watch index is about: a policy version with one, a
/// stance's or an outcome's draft.
pub(super) fn consultation_of(entry: &Entry) -> Option<EntryId> {
    match &entry.body {
        Body::Policy(p) if p.consultation.is_some() => Some(entry.id),
        Body::Stance(s) => Some(s.draft),
        Body::Outcome(o) => Some(o.draft),
        _ => None,
    }
}

/// The event for an entry of the watch index (`cursor` already covers it); consultation
/// events only if the client asked for them (`consultations`).
pub(super) fn event(
    ledger: &Ledger,
    collector: &FeedId,
    index: u64,
    entry: &Entry,
    revoked_subject: Option<FeedId>,
    cursor: &Cursor,
    consultations: bool,
) -> Option<pb::WatchEvent> {
    let mut event = pb::WatchEvent {
        cursor: cursor.encode(),
        index,
        entry: Some(entry.to_signed()),
        log_size: ledger.stats().log_size,
        time_ms: ledger.now_ms(),
        ..Default::default()
    };
    let id = |e: &EntryId| Bytes::copy_from_slice(&e.0);
    match &entry.body {
        Body::Grant(g) if g.collector == *collector => {
            event.kind = pb::WatchKind::Grant as i32;
            // A delegate's grant is the represented person's consent.
            let subject = g.on_behalf.map_or(entry.feed, |o| o.person);
            event.subject = Bytes::copy_from_slice(&subject.0);
            event.grant = id(&entry.id);
            event.valid_until = g.valid_until.unwrap_or(0);
            // An expiry the stream has already passed is reported here, not as EXPIRED.
            event.already_expired = g
                .valid_until
                .is_some_and(|until| until <= cursor.expired_through);
        }
        Body::Revoke(r) => {
            event.kind = pb::WatchKind::Revoke as i32;
            // The revoked grant's subject (`revoked_subject`, read with the page); else whom the
            // revocation names.
            let subject =
                revoked_subject.unwrap_or_else(|| r.on_behalf.map_or(entry.feed, |o| o.person));
            event.subject = Bytes::copy_from_slice(&subject.0);
            event.grant = id(&r.grant);
            event.erase = r.erase;
        }
        Body::Request(r) if r.collector == *collector => {
            event.kind = pb::WatchKind::Request as i32;
            let subject = r.on_behalf.map_or(entry.feed, |o| o.person);
            event.subject = Bytes::copy_from_slice(&subject.0);
        }
        Body::Accreditation(a) if a.collector == *collector => {
            event.kind = pb::WatchKind::Accredited as i32;
        }
        Body::Suspension(s) if s.collector == *collector => {
            event.kind = pb::WatchKind::Suspended as i32;
        }
        Body::Policy(_) if consultations && entry.feed == *collector => {
            event.kind = pb::WatchKind::Policy as i32;
        }
        Body::Stance(s) if consultations => {
            event.kind = pb::WatchKind::Stances as i32;
            event.draft = id(&s.draft);
        }
        Body::Outcome(o) if consultations => {
            event.kind = pb::WatchKind::Outcome as i32;
            event.draft = id(&o.draft);
        }
        _ => return None,
    }
    Some(event)
}
