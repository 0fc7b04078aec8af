//! sled-backed storage, in one sled database under `<home>/db`: the Raft log (`log`), the
//! state trees declared once (`trees`), applying commands (`apply`), the state machine with
//! its "applied" notification (`state_machine`), reads (`view`) and snapshot files.

// openraft fixes the error type of every storage call; it is large by design.
#![allow(clippy::result_large_err)]
pub mod accounts_view;
mod apply;
pub mod backup;
mod due;
mod expiry_scan;
pub mod federation_view;
pub mod format_mark;
mod io;
pub mod log;
mod log_tail;
mod observers;
pub mod snapshot;
mod snapshot_files;
pub mod state_machine;
pub mod trees;
pub mod view;

pub use backup::BackupSource;
pub use log::LogStore;
pub use observers::AppliedEntry;
pub use state_machine::{Applied, StateMachine};
pub use view::{StateView, StoreError};
