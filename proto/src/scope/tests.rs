//! Scope validation and the scope rule, one test per rule and per branch.

use super::*;
use crate::fixtures::street_scope;

#[test]
fn the_street_scope_round_trips_through_the_wire() {
    let scope = street_scope();
    let purposes: PurposeSet = scope.forms.iter().map(|pf| pf.purpose).collect();
    assert_eq!(
        PolicyScope::from_wire(&scope.to_wire(), purposes),
        Ok(scope)
    );
}
