//! Raft wiring: type configuration, the replicated commands and their responses, the network.
pub mod command;
pub mod network;
pub mod rpc;

openraft::declare_raft_types!(
    pub TypeConfig:
        D = command::Command,
        R = command::CommandResponse,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type NodeId = u64;
pub type Raft = openraft::Raft<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type StorageError = openraft::StorageError<NodeId>;
