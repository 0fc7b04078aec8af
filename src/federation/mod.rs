//! Access Federation between sites (separate Raft clusters): the wire protocol, the signed
//! messages sites exchange, the link that pushes one site's journal to a peer, and full sync.
//! The federated state itself (peers, journal, version vector, cursors) is replicated state:
//! see `store::apply::federation`.

pub mod admission;
pub mod client;
pub mod message;
pub mod protocol;
pub mod status;
pub mod upload;
