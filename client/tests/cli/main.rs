//! The `consent` binary driven as a person or a script would, against real nodes: the whole life
//! cycle in `--json` and every error path (`scripted`), the dev network from the CLI alone
//! (`devnet`), the human output (`cli_human`), the auditor's commands (`audit`), consent narrowed
//! to zones, sensors, times and forms (`scope`), public consultations (`consult`), acting in
//! someone else's name (`delegation`), and the wallet's unlinkability mitigations (`privacy`).
//! One test binary (each links the whole node).

mod common;

mod audit;
mod cli_human;
mod consult;
mod delegation;
mod devnet;
mod privacy;
mod scope;
mod scripted;
