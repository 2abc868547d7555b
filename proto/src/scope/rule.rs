//! The rules that judge scopes: whether a grant's narrowing lies within its policy's scope
//! ([`GrantScope::within`], when the grant is validated), whether an observation lies in a
//! grant's effective scope ([`evaluate`], step 6 of the decision rule), the form data must be
//! kept in ([`required_form`]), and the digest of a check's context that receipts sign
//! ([`context_digest`]).

use super::{Context, FormSpec, GrantScope, PolicyScope, ScopeFacts, TimeWindow, local_time};
use crate::domain;
use crate::h3::Cell;
use crate::pb::Reason;
use crate::validate::Rejection;
use crate::vocab::{Form, Purpose};

impl GrantScope {
    /// Whether it lies within `policy`'s scope (an empty [`PolicyScope`] for a policy without
    /// one), checked in this order, the first offending item in list order named (of kinds, the
    /// lowest wire number): `zone-not-in-policy` (a zone id the policy does not declare),
    /// `sensor-not-in-policy` (a sensor id it does not declare, then a kind none of its sensors
    /// has), `window-not-in-policy` (when the policy declares windows, a window within none of
    /// them), `form-not-offered` (a floor the policy does not offer for that purpose).
    pub fn within(&self, policy: &PolicyScope) -> Result<(), Rejection> {
        if let Some(z) = self.zones.iter().find(|z| policy.zone(**z).is_none()) {
            return Err(Rejection::ZoneNotInPolicy(*z));
        }
        if let Some(s) = self.sensors.iter().find(|s| policy.sensor(**s).is_none()) {
            return Err(Rejection::SensorNotInPolicy {
                sensor: Some(*s),
                kind: None,
            });
        }
        if let Some(k) = self
            .sensor_kinds
            .iter()
            .find(|k| !policy.sensors.iter().any(|s| s.kind == *k))
        {
            return Err(Rejection::SensorNotInPolicy {
                sensor: None,
                kind: Some(k),
            });
        }
        if !policy.windows.is_empty()
            && let Some(w) = self
                .windows
                .iter()
                .find(|w| !policy.windows.iter().any(|outer| w.within(outer)))
        {
            return Err(Rejection::WindowNotInPolicy(*w));
        }
        if let Some((purpose, form)) = self
            .forms
            .iter()
            .find(|(p, f)| policy.offer(*p, *f).is_none())
        {
            return Err(Rejection::FormNotOffered {
                purpose: *purpose,
                form: *form,
            });
        }
        Ok(())
    }
}

impl Context {
    /// The context digest ([`context_digest`] of its wire form, zeros for what is not given).
    pub fn digest(&self) -> [u8; 32] {
        context_digest(
            self.sensor.unwrap_or(0),
            self.sensor_kind.map_or(0, |k| k as i32),
            self.cell.map_or(0, Cell::raw),
            self.observed_ms.unwrap_or(0),
            self.form.map_or(0, |f| f as i32),
        )
    }
}

/// `BLAKE3("consent-ledger/context/v2" || sensor (u32 BE) || sensor_kind (1 byte: the low byte
/// of its wire number) || cell (u64 BE) || observed_ms (u64 BE) || form (1 byte: the low byte of
/// its wire number))`. (v1, before contexts named the sensor's kind, hashed the same without the
/// kind's byte; the new domain keeps the two apart.)
pub fn context_digest(
    sensor: u32,
    sensor_kind: i32,
    cell: u64,
    observed_ms: u64,
    form: i32,
) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(domain::CONTEXT);
    h.update(&sensor.to_be_bytes());
    h.update(&[(sensor_kind & 0xff) as u8]);
    h.update(&cell.to_be_bytes());
    h.update(&observed_ms.to_be_bytes());
    h.update(&[(form & 0xff) as u8]);
    *h.finalize().as_bytes()
}

/// Step 6 of the decision rule: whether the observation `ctx` for `purpose` lies in the grant's
/// effective scope. Missing context first (sensor, cell, time, form, each only if a dimension
/// needs it; the sensor is given only with its id and its kind), then coverage in the same order
/// (a sensor must be declared by the grant's policy version with the kind the context states);
/// the first failure is the reason.
pub fn evaluate(scope: &ScopeFacts, purpose: Purpose, ctx: &Context) -> Result<(), Reason> {
    let p = &*scope.policy;
    let g = scope.grant.as_ref();
    let offers = p.offers(purpose);
    let needs_sensor = !p.sensors.is_empty();
    let needs_cell = !p.zones.is_empty();
    let needs_time = !p.windows.is_empty() || g.is_some_and(|g| !g.windows.is_empty());
    let needs_form = !offers.is_empty();

    // The sensor is its id and its kind: either one missing is the sensor missing.
    let sensor = match (needs_sensor, ctx.sensor, ctx.sensor_kind) {
        (false, _, _) => None,
        (true, Some(id), Some(kind)) => Some((id, kind)),
        (true, _, _) => return Err(Reason::ContextMissingSensor),
    };
    let cell = match (needs_cell, ctx.cell) {
        (true, None) => return Err(Reason::ContextMissingCell),
        (_, c) => c,
    };
    let observed = match (needs_time, ctx.observed_ms) {
        (true, None) => return Err(Reason::ContextMissingTime),
        (_, t) => t,
    };
    let form = match (needs_form, ctx.form) {
        (true, None) => return Err(Reason::ContextMissingForm),
        (_, f) => f,
    };

    if let Some((id, kind)) = sensor {
        // The id as the grant's policy version declares it, and of the kind the collector says:
        // a later version may have given the id to a sensor of another kind.
        let s = p
            .sensor(id)
            .filter(|s| s.kind == kind)
            .ok_or(Reason::SensorNotCovered)?;
        if let Some(g) = g
            && !(g.sensors.is_empty() && g.sensor_kinds.is_empty())
            && g.sensors.binary_search(&id).is_err()
            && !g.sensor_kinds.contains(s.kind)
        {
            return Err(Reason::SensorNotCovered);
        }
    }
    if let (true, Some(cell)) = (needs_cell, cell) {
        let covered = match g.filter(|g| !g.zones.is_empty()) {
            Some(g) => g
                .zones
                .iter()
                .filter_map(|id| p.zone(*id))
                .any(|z| z.contains(cell)),
            None => p.zones.iter().any(|z| z.contains(cell)),
        };
        if !covered {
            return Err(Reason::ZoneNotCovered);
        }
    }
    if let (true, Some(t)) = (needs_time, observed) {
        let (weekday, minute) = local_time(t, p.utc_offset_minutes);
        let inside = |windows: &[TimeWindow]| windows.iter().any(|w| w.contains(weekday, minute));
        if !p.windows.is_empty() && !inside(p.windows.as_slice()) {
            return Err(Reason::TimeNotCovered);
        }
        if let Some(g) = g
            && !g.windows.is_empty()
            && !inside(g.windows.as_slice())
        {
            return Err(Reason::TimeNotCovered);
        }
    }
    if let (true, Some(f)) = (needs_form, form) {
        if !offers.iter().any(|o| o.form() == f) {
            return Err(Reason::FormNotCovered);
        }
        if let Some(floor) = g.and_then(|g| g.floor(purpose))
            && f.rank() < floor.rank()
        {
            return Err(Reason::FormNotCovered);
        }
    }
    Ok(())
}

/// The form data kept for `purpose` must be in under this scope: the grant's floor for the
/// purpose, else the least protective form the policy offers for it, else `None` (no form is
/// required).
pub fn required_form(scope: &ScopeFacts, purpose: Purpose) -> Option<Form> {
    scope
        .grant
        .as_ref()
        .and_then(|g| g.floor(purpose))
        .or_else(|| {
            scope
                .policy
                .offers(purpose)
                .iter()
                .map(FormSpec::form)
                .min_by_key(|f| f.rank())
        })
}
