//! Scoped consent end to end on one node: the street scene, citizens with random scopes, and
//! random contexts through Check and CheckBatch against the reference evaluator (issue 20, B).
