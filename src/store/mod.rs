//! sled-backed storage, in one sled database under `<home>/db`: the Raft log (`log`), the
//! state trees declared once (`trees`), applying commands (`apply`), the state machine with
//! its "applied" notification (`state_machine`), reads (`view`) and snapshot files.

// openraft fixes the error type of every storage call; it is large by design.
#![allow(clippy::result_large_err)]
mod apply;
pub mod log;
pub mod snapshot;
pub mod state_machine;
pub mod trees;
pub mod view;

use openraft::AnyError;

pub use log::LogStore;
pub use state_machine::{Applied, StateMachine};
pub use view::{StateView, StoreError};

pub(crate) fn any_err<E: std::error::Error + 'static>(e: E) -> AnyError {
    AnyError::new(&e)
}

/// Big-endian index keys keep sled's ordering equal to log order.
pub(crate) fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}
