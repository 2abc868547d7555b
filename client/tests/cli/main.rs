//! The `consent` binary driven as a person or a script would, against real nodes: the whole life
//! cycle in `--json` and every error path (`scripted`), the dev network from the CLI alone (`devnet`), the human output (`cli_human`), the
//! auditor's commands (`audit`), consent narrowed to zones, sensors, times and forms (`scope`),
//! and public consultations (`consult`). One test binary (each links the whole node).

mod common;

mod audit;
mod cli_human;
mod consult;
mod devnet;
mod scope;
mod scripted;
