//! Delegation in tests: a person, an assistant and the person's delegation to it, guardians of
//! a child, the bodies a delegate signs in someone's name, and the Ledger's delegation reads
//! over gRPC.
//!
//! Times: a delegated entry, an undelegation or an endorsement is taken at submission only
//! within 5 minutes of the node's clock (`delegated-entry-too-old`), so these helpers sign them
//! at the system clock's now ([`now`]) for nodes on the system clock. Inceptions and the
//! fixture scene stay at `T0`.

use consent_node::clock::Clock;
use consent_proto::Entry;
use consent_proto::body::{Body, Delegation, Endorsement, OnBehalf, Undelegation};
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, T0};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb;
use consent_proto::vocab::{DelegatedPower, DelegationKind, PowerSet, Purpose, PurposeSet, Role};
use futures::StreamExt;
use prost::bytes::Bytes;

use crate::harness::TestNode;

/// The system clock's time now, Unix ms: when the helpers sign delegated entries. It never goes
/// back between two calls in one test (a feed's entries must not go back in time).
pub fn now() -> u64 {
    Clock::system().now_ms()
}

/// A delegation of `kind` to `delegate` with `powers`, for `collectors` (empty: any) and
/// `purposes` (empty: any), until `valid_until`, with `co_signer` (a guardian's co-guardian).
pub fn delegation(
    delegate: FeedId,
    kind: DelegationKind,
    powers: &[DelegatedPower],
    collectors: &[FeedId],
    purposes: &[Purpose],
    valid_until: Option<u64>,
    co_signer: Option<FeedId>,
) -> Body {
    let mut collectors = collectors.to_vec();
    collectors.sort();
    Body::Delegation(Delegation {
        delegate,
        powers: powers.iter().copied().collect::<PowerSet>(),
        collectors,
        purposes: purposes.iter().copied().collect::<PurposeSet>(),
        valid_until,
        kind,
        co_signer,
    })
}

/// An assistant's delegation to `delegate` for `collector`: grant, revoke and ask, any purpose,
/// until undelegated.
pub fn assistant(delegate: FeedId, collector: FeedId) -> Body {
    delegation(
        delegate,
        DelegationKind::Assistant,
        &[
            DelegatedPower::Grant,
            DelegatedPower::Revoke,
            DelegatedPower::Request,
        ],
        &[collector],
        &[],
        None,
        None,
    )
}

/// A guardian's delegation (grant and revoke, any collector and purpose) to `delegate` until the
/// child comes of age at `comes_of_age_ms`, each grant needing `co_signer`'s endorsement.
pub fn guardian(delegate: FeedId, co_signer: FeedId, comes_of_age_ms: u64) -> Body {
    delegation(
        delegate,
        DelegationKind::Guardian,
        &[DelegatedPower::Grant, DelegatedPower::Revoke],
        &[],
        &[],
        Some(comes_of_age_ms),
        Some(co_signer),
    )
}

/// `body` (a grant, revocation or request) signed in `person`'s name under `delegation`.
pub fn in_name_of(body: Body, person: FeedId, delegation: EntryId) -> Body {
    let on_behalf = Some(OnBehalf { person, delegation });
    match body {
        Body::Grant(mut g) => {
            g.on_behalf = on_behalf;
            Body::Grant(g)
        }
        Body::Revoke(mut r) => {
            r.on_behalf = on_behalf;
            Body::Revoke(r)
        }
        Body::Request(mut r) => {
            r.on_behalf = on_behalf;
            Body::Request(r)
        }
        other => other,
    }
}

/// An undelegation of `delegation`, void from `void_from_ms` (`None`: 5 minutes before it).
pub fn undelegation(delegation: EntryId, void_from_ms: Option<u64>) -> Body {
    Body::Undelegation(Undelegation {
        delegation,
        void_from_ms,
    })
}

/// The co-guardian's endorsement of `grant`, in `person`'s name under its own `delegation`.
pub fn endorsement(grant: EntryId, person: FeedId, delegation: EntryId) -> Body {
    Body::Endorsement(Endorsement {
        grant,
        on_behalf: OnBehalf { person, delegation },
    })
}

/// The fixture scene, a person and an assistant, and the person's delegation to the assistant
/// for the scene's collector ([`assistant`], signed now).
pub struct People {
    /// The registrar, the collector, its policy.
    pub scene: fixtures::Scene,
    /// The represented person.
    pub person: Author,
    /// The assistant.
    pub delegate: Author,
    /// The person's Delegation.
    pub delegation: Entry,
    /// The scene, both inceptions and the delegation, in an order a node accepts.
    pub entries: Vec<Entry>,
}

impl People {
    /// Builds them (`delegation`: the person's Delegation body for the assistant's feed and the
    /// scene's collector).
    pub fn with(delegation: impl FnOnce(FeedId, FeedId) -> Body) -> People {
        let scene = fixtures::scene(T0);
        let (mut person, p0) = fixtures::author(Role::Citizen, "person", T0);
        let (delegate, d0) = fixtures::author(Role::Citizen, "assistant", T0);
        let delegation = fixtures::append(
            &mut person,
            now(),
            delegation(delegate.feed(), scene.collector.feed()),
        );
        let mut entries = scene.entries.clone();
        entries.extend([p0, d0, delegation.clone()]);
        People {
            scene,
            person,
            delegate,
            delegation,
            entries,
        }
    }

    /// With an [`assistant`] delegation.
    pub fn new() -> People {
        People::with(assistant)
    }

    /// The assistant's grant of location data for `purpose` to the scene's collector in the
    /// person's name, signed now (appended to its feed).
    pub fn grant(&mut self, purpose: Purpose) -> Entry {
        let body = in_name_of(
            fixtures::location_grant(&self.scene, purpose),
            self.person.feed(),
            self.delegation.id,
        );
        fixtures::append(&mut self.delegate, now(), body)
    }
}

impl Default for People {
    fn default() -> Self {
        People::new()
    }
}

/// `Ledger.ListDelegations` of `feed` at `node`.
pub async fn delegations(node: &TestNode, feed: &FeedId) -> pb::ListDelegationsResponse {
    let request = pb::ListDelegationsRequest {
        feed: Bytes::copy_from_slice(&feed.0),
    };
    match node.ledger().await.list_delegations(request).await {
        Ok(r) => r.into_inner(),
        Err(e) => panic!("ListDelegations of {feed:?}: {e}"),
    }
}

/// `Ledger.ListDelegated` of `person` at `node`, from the start: the entry ids, in the order
/// the node sent them.
pub async fn delegated(node: &TestNode, person: &FeedId) -> Vec<EntryId> {
    let request = pb::ListDelegatedRequest {
        person: Bytes::copy_from_slice(&person.0),
        after: 0,
        limit: 0,
    };
    let mut stream = match node.ledger().await.list_delegated(request).await {
        Ok(r) => r.into_inner(),
        Err(e) => panic!("ListDelegated of {person:?}: {e}"),
    };
    let mut ids = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(entry) => match EntryId::from_slice(&entry.id) {
                Ok(id) => ids.push(id),
                Err(e) => panic!("ListDelegated sent a bad id: {e}"),
            },
            Err(e) => panic!("ListDelegated of {person:?} failed: {e}"),
        }
    }
    ids
}

/// The delegation an answer names, decoded (`None`: none).
pub fn used(answer: &pb::CheckResponse) -> Option<consent_proto::delegation::DelegationUsed> {
    answer.delegated.as_ref().map(|d| {
        match consent_proto::delegation::DelegationUsed::from_wire(d) {
            Some(used) => used,
            None => panic!("the answer's delegation does not decode: {d:?}"),
        }
    })
}
