//! The collector SDK's decision cache and the node agree on scoped checks, before and after
//! revocations and expiries (issue 20, part C).
