//! The structural checks of the delegation bodies' wire forms (a delegation, an undelegation, an
//! endorsement) and of the `on_behalf` of any body a delegate signs. Validation adds the rules
//! that need the entry's feed, seq and time ([`crate::validate`]).

use crate::body::fields::{bad, id32, purposes};
use crate::body::{Delegation, Endorsement, OnBehalf, Undelegation};
use crate::ids::{EntryId, FeedId};
use crate::limits::{DAY_MS, MAX_DELEGATION_COLLECTORS, MIN_TIME_MS};
use crate::pb;
use crate::validate::Rejection;
use crate::vocab::{DelegatedPower, DelegationKind, PowerSet, PurposeSet};

/// Checks and converts a wire `OnBehalf` (its fields named `person` and `delegation` in messages).
pub(super) fn on_behalf_from_wire(
    b: &pb::OnBehalf,
    person: &'static str,
    delegation: &'static str,
) -> Result<OnBehalf, Rejection> {
    Ok(OnBehalf {
        person: FeedId(id32(person, &b.person)?),
        delegation: EntryId(id32(delegation, &b.delegation)?),
    })
}

pub(super) fn on_behalf_to_wire(o: &OnBehalf) -> pb::OnBehalf {
    pb::OnBehalf {
        person: prost::bytes::Bytes::copy_from_slice(&o.person.0),
        delegation: prost::bytes::Bytes::copy_from_slice(&o.delegation.0),
    }
}

/// Checks and converts a wire delegation (the rules that need no other entry; validation adds
/// those that need the entry's feed, seq and time).
pub(super) fn delegation_from_wire(b: &pb::Delegation) -> Result<Delegation, Rejection> {
    let delegate = FeedId(id32("delegation.delegate", &b.delegate)?);
    if b.powers.is_empty() || b.powers.len() > DelegatedPower::ALL.len() {
        return Err(bad(
            "delegation.powers",
            format!(
                "1..={} powers, got {}",
                DelegatedPower::ALL.len(),
                b.powers.len()
            ),
        ));
    }
    let mut powers = PowerSet::EMPTY;
    for v in &b.powers {
        let p = DelegatedPower::from_wire(*v).ok_or_else(|| {
            bad(
                "delegation.powers",
                format!("unknown or unspecified power {v}"),
            )
        })?;
        if !powers.insert(p) {
            return Err(bad("delegation.powers", format!("power {p} listed twice")));
        }
    }
    if b.collectors.len() > MAX_DELEGATION_COLLECTORS {
        return Err(bad(
            "delegation.collectors",
            format!(
                "at most {MAX_DELEGATION_COLLECTORS}, got {}",
                b.collectors.len()
            ),
        ));
    }
    let mut collectors: Vec<FeedId> = Vec::with_capacity(b.collectors.len());
    for c in &b.collectors {
        let c = FeedId(id32("delegation.collectors", c)?);
        if collectors.last().is_some_and(|last| *last >= c) {
            return Err(bad("delegation.collectors", "must be strictly ascending"));
        }
        collectors.push(c);
    }
    let purposes = match b.purposes.len() {
        0 => PurposeSet::EMPTY,
        _ => purposes("delegation.purposes", &b.purposes)?,
    };
    let kind = DelegationKind::from_wire(b.kind)
        .ok_or_else(|| bad("delegation.kind", "unknown or unspecified kind"))?;
    let valid_until = match b.valid_until {
        0 => None,
        t => Some(t),
    };
    let co_signer = match b.co_signer.len() {
        0 => None,
        _ => Some(FeedId(id32("delegation.co_signer", &b.co_signer)?)),
    };
    match kind {
        DelegationKind::Guardian => match valid_until {
            None => {
                return Err(bad(
                    "delegation.valid_until",
                    "required for a guardian: the coming-of-age instant",
                ));
            }
            Some(t) if t % DAY_MS != 0 => {
                return Err(bad(
                    "delegation.valid_until",
                    "a guardian's is a UTC midnight (a multiple of 86400000)",
                ));
            }
            Some(_) => {}
        },
        _ => {
            if co_signer.is_some() {
                return Err(bad(
                    "delegation.co_signer",
                    "only a guardian delegation has one",
                ));
            }
        }
    }
    if co_signer == Some(delegate) {
        return Err(bad("delegation.co_signer", "must not be the delegate"));
    }
    Ok(Delegation {
        delegate,
        powers,
        collectors,
        purposes,
        valid_until,
        kind,
        co_signer,
    })
}

/// Checks and converts a wire undelegation.
pub(super) fn undelegation_from_wire(b: &pb::Undelegation) -> Result<Undelegation, Rejection> {
    let void_from_ms = match b.void_from_ms {
        0 => None,
        t if t < MIN_TIME_MS => {
            return Err(bad(
                "undelegation.void_from_ms",
                format!("0 or at least {MIN_TIME_MS} (2020-01-01)"),
            ));
        }
        t => Some(t),
    };
    Ok(Undelegation {
        delegation: EntryId(id32("undelegation.delegation", &b.delegation)?),
        void_from_ms,
    })
}

/// Checks and converts a wire endorsement.
pub(super) fn endorsement_from_wire(b: &pb::Endorsement) -> Result<Endorsement, Rejection> {
    let grant = EntryId(id32("endorsement.grant", &b.grant)?);
    let Some(o) = &b.on_behalf else {
        return Err(bad("endorsement.on_behalf", "required"));
    };
    Ok(Endorsement {
        grant,
        on_behalf: on_behalf_from_wire(
            o,
            "endorsement.on_behalf.person",
            "endorsement.on_behalf.delegation",
        )?,
    })
}
