//! What a delegation lets its delegate sign, judged before anything is signed, so that a wallet
//! refuses locally with the reason a node would give (the ledger rules in the crate docs of
//! consent-proto, "Delegation": `power-not-delegated`, `collector-not-delegated`,
//! `purpose-not-delegated`, `delegation-not-in-force`; an endorsement is judged by the endorsed
//! grant's collector and purposes), and refuses as well what a node would
//! accept but the decision rule would not count: a statement signed at or after the delegation's
//! end (`delegation-withdrawn`).

use consent_proto::body::Delegation;
use consent_proto::ids::FeedId;
use consent_proto::vocab::{DelegatedPower, PurposeSet};

/// What the delegate is about to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// A grant to `collector` for `purposes`.
    Grant {
        /// The grant's collector.
        collector: FeedId,
        /// The grant's purposes.
        purposes: PurposeSet,
    },
    /// A revocation of a grant to `collector`.
    Revoke {
        /// The revoked grant's collector.
        collector: FeedId,
    },
    /// A request to `collector`.
    Request {
        /// The request's collector.
        collector: FeedId,
    },
    /// The co-guardian's endorsement of a grant to `collector` for `purposes`.
    Endorse {
        /// The endorsed grant's collector.
        collector: FeedId,
        /// The endorsed grant's purposes.
        purposes: PurposeSet,
    },
}

/// Why the delegate may not sign it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{why} ({code})")]
pub struct Refusal {
    /// The node's rejection code, or `delegation-withdrawn`.
    pub code: &'static str,
    /// In words.
    pub why: String,
}

/// Whether delegation `d` (signed at `from_ms`, ended early at `end_ms` by an undelegation if
/// `Some`) lets its delegate sign `act` at `at_ms`. The checks run in the node's order.
pub fn permits(
    d: &Delegation,
    from_ms: u64,
    end_ms: Option<u64>,
    act: &Act,
    at_ms: u64,
) -> Result<(), Refusal> {
    let refuse = |code, why: String| Err(Refusal { code, why });
    let has = |p| d.powers.contains(p);
    let (allowed, needs) = match act {
        Act::Grant { .. } | Act::Endorse { .. } => (has(DelegatedPower::Grant), "grant"),
        Act::Revoke { .. } => (
            has(DelegatedPower::Revoke) || has(DelegatedPower::Grant),
            "revoke",
        ),
        Act::Request { .. } => (has(DelegatedPower::Request), "request"),
    };
    if !allowed {
        return refuse(
            "power-not-delegated",
            format!(
                "the delegation does not let you {needs} (it allows: {})",
                powers_text(d)
            ),
        );
    }
    let collector = match act {
        Act::Grant { collector, .. }
        | Act::Endorse { collector, .. }
        | Act::Revoke { collector }
        | Act::Request { collector } => collector,
    };
    if !d.collectors.is_empty() && !d.collectors.contains(collector) {
        return refuse(
            "collector-not-delegated",
            "the delegation does not cover that collector".to_string(),
        );
    }
    if let Act::Grant { purposes, .. } | Act::Endorse { purposes, .. } = act
        && !d.purposes.is_empty()
        && !purposes.is_subset(d.purposes)
    {
        let outside: Vec<&str> = purposes
            .iter()
            .filter(|p| !d.purposes.contains(*p))
            .map(|p| p.name())
            .collect();
        return refuse(
            "purpose-not-delegated",
            format!(
                "the delegation does not cover the purpose(s) {}",
                outside.join(", ")
            ),
        );
    }
    if at_ms < from_ms || d.valid_until.is_some_and(|u| at_ms >= u) {
        return refuse(
            "delegation-not-in-force",
            match d.valid_until {
                Some(u) if at_ms >= u => {
                    format!("the delegation ended on {}", crate::time::format(u))
                }
                _ => "the delegation is not in force yet".to_string(),
            },
        );
    }
    if let Some(end) = end_ms
        && at_ms >= end
    {
        return refuse(
            "delegation-withdrawn",
            format!(
                "the person withdrew the delegation from {} on: what you sign would not count",
                crate::time::format(end)
            ),
        );
    }
    Ok(())
}

/// The delegation's powers, by name.
pub fn powers_text(d: &Delegation) -> String {
    d.powers
        .iter()
        .map(|p| p.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_proto::vocab::{DelegationKind, PowerSet, Purpose};

    const T: u64 = 1_800_000_000_000;

    fn delegation(powers: &[DelegatedPower]) -> Delegation {
        Delegation {
            delegate: FeedId([2; 32]),
            powers: powers.iter().copied().collect::<PowerSet>(),
            collectors: vec![FeedId([5; 32])],
            purposes: [Purpose::ServiceProvision].into_iter().collect(),
            valid_until: Some(T + 1_000),
            kind: DelegationKind::Assistant,
            co_signer: None,
        }
    }

    fn grant(collector: u8, purpose: Purpose) -> Act {
        Act::Grant {
            collector: FeedId([collector; 32]),
            purposes: [purpose].into_iter().collect(),
        }
    }

    fn code(r: Result<(), Refusal>) -> &'static str {
        r.err().map_or("ok", |r| r.code)
    }

    #[test]
    fn a_delegate_is_refused_outside_its_delegation_as_a_node_would() {
        let d = delegation(&[DelegatedPower::Grant]);
        let ok = grant(5, Purpose::ServiceProvision);
        assert_eq!(code(permits(&d, T, None, &ok, T)), "ok");
        assert_eq!(
            code(permits(
                &d,
                T,
                None,
                &grant(6, Purpose::ServiceProvision),
                T
            )),
            "collector-not-delegated"
        );
        assert_eq!(
            code(permits(&d, T, None, &grant(5, Purpose::Marketing), T)),
            "purpose-not-delegated"
        );
        assert_eq!(
            code(permits(&d, T, None, &ok, T - 1)),
            "delegation-not-in-force"
        );
        assert_eq!(
            code(permits(&d, T, None, &ok, T + 1_000)),
            "delegation-not-in-force"
        );
        assert_eq!(
            code(permits(&d, T, Some(T + 10), &ok, T + 10)),
            "delegation-withdrawn"
        );
        assert_eq!(code(permits(&d, T, Some(T + 10), &ok, T + 9)), "ok");
        let requests = Act::Request {
            collector: FeedId([5; 32]),
        };
        assert_eq!(
            code(permits(&d, T, None, &requests, T)),
            "power-not-delegated"
        );
    }

    #[test]
    fn grant_implies_revoke_and_endorse_needs_grant() {
        let revoke = Act::Revoke {
            collector: FeedId([5; 32]),
        };
        let endorse = Act::Endorse {
            collector: FeedId([5; 32]),
            purposes: [Purpose::ServiceProvision].into_iter().collect(),
        };
        let granting = delegation(&[DelegatedPower::Grant]);
        assert_eq!(code(permits(&granting, T, None, &revoke, T)), "ok");
        assert_eq!(code(permits(&granting, T, None, &endorse, T)), "ok");
        let elsewhere = Act::Endorse {
            collector: FeedId([6; 32]),
            purposes: [Purpose::ServiceProvision].into_iter().collect(),
        };
        assert_eq!(
            code(permits(&granting, T, None, &elsewhere, T)),
            "collector-not-delegated"
        );
        let revoking = delegation(&[DelegatedPower::Revoke]);
        assert_eq!(code(permits(&revoking, T, None, &revoke, T)), "ok");
        assert_eq!(
            code(permits(&revoking, T, None, &endorse, T)),
            "power-not-delegated"
        );
        // Power comes first, as in the node's order.
        assert_eq!(
            code(permits(
                &revoking,
                T,
                None,
                &grant(6, Purpose::Marketing),
                T - 5
            )),
            "power-not-delegated"
        );
    }
}
