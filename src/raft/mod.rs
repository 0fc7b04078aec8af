//! Raft: type configuration, the replicated commands, the one writer (propose / forward /
//! retry / read barrier), group commit, membership, whether a node is cut off from a
//! majority, and the node-to-node network.
pub mod audit;
pub mod batcher;
pub mod clock;
pub mod command;
pub mod contact;
pub mod election;
pub mod format;
pub mod leader_contact;
pub mod membership;
pub mod network;
pub mod peer;
pub mod quorum;
pub mod rpc;
pub mod snapshot_pace;
pub mod writer;

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
