//! Consents under one scoped policy version, by zone and by form, as the register counts them:
//! a grant counted in when it arrives and out when it is revoked; counts, never who.

use std::collections::BTreeMap;

use consent_proto::body::Grant;
use consent_proto::vocab::{Form, Purpose};

/// Consents under one scoped policy version, by zone and by form: counts, never who. Only
/// grants not revoked are counted (a revocation subtracts what its grant added).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ScopeCounts {
    /// Grants narrowing no zone: they cover every zone of the policy.
    pub every_zone: u64,
    /// Grants narrowing to zones, by zone id.
    pub zones: BTreeMap<u32, u64>,
    /// Grants covering a purpose with a floor (the least protective form they accept), by
    /// (purpose, floor).
    pub floors: BTreeMap<(Purpose, Form), u64>,
    /// Grants covering a purpose without a floor: the policy's least protective offer is theirs.
    pub unfloored: BTreeMap<Purpose, u64>,
}

impl ScopeCounts {
    /// Counts `grant` in (`sign` 1) or out (-1).
    pub(super) fn add(&mut self, grant: &Grant, sign: i64) {
        let bump = |n: &mut u64| *n = n.saturating_add_signed(sign);
        let narrowing = grant.scope.as_ref();
        match narrowing.filter(|s| !s.zones.is_empty()) {
            None => bump(&mut self.every_zone),
            Some(s) => {
                for zone in &s.zones {
                    bump(self.zones.entry(*zone).or_default());
                }
            }
        }
        for purpose in grant.purposes.iter() {
            let floor = narrowing.and_then(|s| {
                s.forms
                    .iter()
                    .find(|(p, _)| *p == purpose)
                    .map(|(_, form)| *form)
            });
            match floor {
                Some(form) => bump(self.floors.entry((purpose, form)).or_default()),
                None => bump(self.unfloored.entry(purpose).or_default()),
            }
        }
    }

    /// Grants whose effective zones include `zone`.
    pub(crate) fn in_zone(&self, zone: u32) -> u64 {
        self.every_zone
            .saturating_add(self.zones.get(&zone).copied().unwrap_or(0))
    }

    /// Grants covering `purpose` whose effective floor is `form`, where `least` is the least
    /// protective form the policy offers for it.
    pub(crate) fn with_floor(&self, purpose: Purpose, form: Form, least: Form) -> u64 {
        let floored = self.floors.get(&(purpose, form)).copied().unwrap_or(0);
        let unfloored = if form == least {
            self.unfloored.get(&purpose).copied().unwrap_or(0)
        } else {
            0
        };
        floored.saturating_add(unfloored)
    }
}
