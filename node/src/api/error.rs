//! Every mapping from a domain error or rejection to a gRPC status lives here.

use consent_proto::Rejection;
use consent_proto::validate::RejectionClass;
use tonic::{Code, Status};

use crate::ledger::LedgerError;

/// The status for an entry the node refused: INVALID_ARGUMENT naming the reason code,
/// FAILED_PRECONDITION for a frozen feed, RESOURCE_EXHAUSTED for size limits.
pub fn rejection(r: &Rejection) -> Status {
    let code = match r.class() {
        RejectionClass::Invalid => Code::InvalidArgument,
        RejectionClass::Precondition => Code::FailedPrecondition,
        RejectionClass::Limit => Code::ResourceExhausted,
    };
    Status::new(code, format!("entry rejected ({}): {r}", r.code()))
}

impl From<LedgerError> for Status {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Store(m) => {
                Status::internal(format!("storage failure, nothing was stored: {m}"))
            }
            LedgerError::ShuttingDown => {
                Status::unavailable("the node is shutting down; retry on another node")
            }
            LedgerError::CorruptStore(m) => Status::internal(m),
        }
    }
}

/// A required 32-byte id field.
pub fn id32(field: &str, bytes: &[u8]) -> Result<[u8; 32], Status> {
    bytes.try_into().map_err(|_| {
        Status::invalid_argument(format!("{field} must be 32 bytes, got {}", bytes.len()))
    })
}

/// A required message field.
pub fn required<T>(field: &str, value: Option<T>) -> Result<T, Status> {
    value.ok_or_else(|| Status::invalid_argument(format!("{field} is required")))
}
