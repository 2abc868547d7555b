//! `compare` and `redefined`: each row of the widening table both ways, and the sentences.

use super::*;
use crate::body::Body;
use crate::fixtures;

fn base() -> Policy {
    let Body::Policy(p) = fixtures::policy(1) else {
        unreachable!("a policy")
    };
    p
}

#[test]
fn the_same_policy_changes_nothing() {
    let p = base();
    let c = compare(&p, &p);
    assert_eq!(c.kind(), ChangeKind::Unchanged);
    assert_eq!(c.sentences(), vec![NO_CHANGE.to_string()]);
}
