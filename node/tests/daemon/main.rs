//! Tests of the `consentd` daemon as a process: `kill -9` during ingest (`crash`), kills inside a
//! store flush (`crash_points`), the deploy files (`deploy`), what a lone node logs and leaves
//! behind (`logs`), the mixed-load soak (`soak`) and starts from the start-up position
//! (`startup`).
//! One test binary: each links the whole node, so one link instead of four.

mod common;

mod crash;
mod crash_points;
mod deploy;
mod logs;
mod soak;
mod startup;
