//! The citizen's commands: `policy`, `grant`, `revoke`, `list`, `history`, `request`, `export`.
//!
//! # Layout
//! - `policy`: `consent policy`, and the collector's policy in effect that a grant is read against.
//! - `grant`: `consent grant`: its terms, shown before signing, and the signing.
//! - `revoke`: `consent revoke`.
//! - `request`: `consent request`.
//! - `records`: `consent list`, `consent history` and `consent export`.
//! - `vocab`: `consent vocab`.

mod grant;
mod policy;
mod records;
mod request;
mod revoke;
mod vocab;

pub use grant::{GrantArgs, grant, show_grant, terms};
pub use policy::{PolicyArgs, policy};
pub use records::{export, history, list};
pub use request::{RequestArgs, request};
pub use revoke::{RevokeArgs, revoke};
pub use vocab::vocab;
