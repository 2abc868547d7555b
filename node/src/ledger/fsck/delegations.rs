//! The structure check of the delegation tables: each row has its table's key length, decodes,
//! and names entries that are stored; each person with a Delegation is marked delegating, and
//! each mark has one. The check from a start-up position checks the rows each entry after it
//! wrote, one by one ([`row`], [`marked`]).

use consent_proto::ids::EntryId;

use super::super::tables::{self, prefix};
use super::Report;
use crate::store::{KvStore, StoreError};

/// What the structure check knows of one delegation table's rows: the table, its name in the
/// report, its key length, where in the key an entry id (32 bytes) starts, and whether the
/// value is an entry id too.
#[derive(Clone, Copy)]
struct RowCheck {
    table: u8,
    what: &'static str,
    length: usize,
    ids: &'static [usize],
    value_names: bool,
}

impl RowCheck {
    const fn new(
        table: u8,
        what: &'static str,
        length: usize,
        ids: &'static [usize],
        value_names: bool,
    ) -> Self {
        Self {
            table,
            what,
            length,
            ids,
            value_names,
        }
    }
}

/// What the structure check knows of each delegation table but `t` (see [`RowCheck`]).
const CHECKS: [RowCheck; 7] = [
    RowCheck::new(prefix::DELEGATION, "delegation", 65, &[33], false),
    RowCheck::new(
        prefix::DELEGATED_GRANT,
        "delegated grant",
        105,
        &[73],
        false,
    ),
    RowCheck::new(
        prefix::DELEGATION_COLLECTOR,
        "delegation collector",
        65,
        &[1],
        false,
    ),
    RowCheck::new(prefix::ENDORSEMENT, "endorsement", 97, &[1, 65], false),
    RowCheck::new(prefix::REVOCATION, "revocation", 65, &[1], false),
    RowCheck::new(
        prefix::DELEGATED_OPT_OUT,
        "delegated opt-out",
        105,
        &[73],
        true,
    ),
    RowCheck::new(prefix::DELEGATED_LOG, "delegated log", 41, &[], true),
];

/// Delegation rows: each has the length its table's keys have, decodes, and names entries that
/// are stored (a `t` row its `j` row); one read per row, no entry decoded (the full check
/// compares every row with the replay's).
pub(super) fn delegations(store: &dyn KvStore, report: &mut Report) -> Result<(), StoreError> {
    for check in &CHECKS {
        for pair in store.scan_prefix(&[check.table]) {
            let (key, value) = pair?;
            check_row(store, check, &key, &value, report)?;
        }
    }
    // Each person with a Delegation is marked, and each mark has a Delegation (the mark is how
    // a decision learns that it must read the delegation tables).
    for person in super::super::delegations::delegating_persons(store) {
        marked(store, &person?, report)?;
    }
    for pair in store.scan_prefix(&[prefix::DELEGATING]) {
        let (key, _) = pair?;
        let fine = key.len() == 33
            && store
                .scan_prefix(&[&[prefix::DELEGATION][..], &key[1..]].concat())
                .next()
                .transpose()?
                .is_some();
        if !fine {
            report.add(format!(
                "a delegating mark (key {}) names no person with a delegation",
                hex::encode(&key)
            ));
        }
    }
    for pair in store.scan_prefix(&[prefix::DELEGATION_BY_DELEGATE]) {
        let (key, _) = pair?;
        let fine = key.len() == 97
            && store
                .get(&[&[prefix::DELEGATION][..], &key[33..97]].concat())?
                .is_some();
        if !fine {
            report.add(format!(
                "a delegation index row (key {}) names no delegation",
                hex::encode(&key)
            ));
        }
    }
    Ok(())
}

/// That `person` (32 bytes), who has a Delegation, is marked delegating (its `g` row).
pub(super) fn marked(
    store: &dyn KvStore,
    person: &[u8],
    report: &mut Report,
) -> Result<(), StoreError> {
    if store
        .get(&[&[prefix::DELEGATING][..], person].concat())?
        .is_none()
    {
        report.add(format!(
            "person {} has a delegation but no delegating mark",
            hex::encode(person)
        ));
    }
    Ok(())
}

/// One row (`key`, `value`) of delegation table `table` (not `t`), checked as [`delegations`]
/// checks each row of it (the check from a start-up position checks the rows entries after it
/// wrote).
pub(super) fn row(
    store: &dyn KvStore,
    table: u8,
    key: &[u8],
    value: &[u8],
    report: &mut Report,
) -> Result<(), StoreError> {
    match CHECKS.iter().find(|c| c.table == table) {
        Some(check) => check_row(store, check, key, value, report),
        None => Ok(()),
    }
}

/// One row checked as `check` says.
fn check_row(
    store: &dyn KvStore,
    check: &RowCheck,
    key: &[u8],
    value: &[u8],
    report: &mut Report,
) -> Result<(), StoreError> {
    let stored = |id: &[u8]| -> Result<bool, StoreError> {
        Ok(store
            .get(&tables::entry_key(&EntryId(tables::bytes32(id)?)))?
            .is_some())
    };
    let RowCheck {
        table,
        what,
        length,
        ids,
        value_names,
    } = *check;
    let mut fine = key.len() == length;
    if fine {
        for &at in ids {
            fine &= stored(&key[at..at + 32])?;
        }
    }
    if fine && value_names {
        fine = value.len() == 32 && stored(value)?;
    }
    if fine {
        fine = match table {
            prefix::DELEGATION => tables::decode::<tables::DelegationRecord>(value, what).is_ok(),
            prefix::DELEGATED_GRANT => tables::decode::<tables::DelegatedGrantRecord>(value, what)
                .is_ok_and(|r| r.grant.id[..] == key[73..105]),
            prefix::ENDORSEMENT => tables::decode::<tables::EndorsementRecord>(value, what).is_ok(),
            prefix::REVOCATION => match tables::decode::<tables::RevocationRecord>(value, what) {
                Ok(r) => stored(&r.revoke)?,
                Err(_) => false,
            },
            _ => true,
        };
    }
    if !fine {
        report.add(format!(
            "a {what} row (key {}) is malformed or names an entry not stored",
            hex::encode(key)
        ));
    }
    Ok(())
}
