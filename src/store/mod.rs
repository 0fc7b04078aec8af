//! sled-backed storage: the Raft log (`log`) and the replicated state machine (`state`),
//! both in one sled database under `<home>/db`.

// openraft fixes the error type of every storage call; it is large by design.
#![allow(clippy::result_large_err)]
mod accounts;
pub mod log;
pub mod snapshot;
pub mod state;

use openraft::AnyError;

pub use log::LogStore;
pub use state::{KeyListener, StateMachine, StateView};

pub(crate) fn any_err<E: std::error::Error + 'static>(e: E) -> AnyError {
    AnyError::new(&e)
}

/// Big-endian index keys keep sled's ordering equal to log order.
pub(crate) fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}
