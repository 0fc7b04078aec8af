//! Cluster RPC client: Raft messages as JSON over HTTP to a peer's `/_cluster/raft/*`,
//! authenticated with the cluster join key. The server side lives in `http::cluster`.

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::contact::PeerContacts;
use super::{NodeId, TypeConfig};

/// Header carrying the cluster join key on every cluster RPC.
pub const JOIN_KEY_HEADER: &str = "x-access-join-key";

#[derive(Clone)]
pub struct ClusterNetwork {
    client: reqwest::Client,
    join_key: String,
    contacts: PeerContacts,
}

impl ClusterNetwork {
    /// `client` carries the TLS settings for https:// peers (see `tls`); `contacts` records
    /// who answered.
    pub fn new(
        join_key: String,
        client: reqwest::Client,
        contacts: PeerContacts,
    ) -> ClusterNetwork {
        ClusterNetwork {
            client,
            join_key,
            contacts,
        }
    }
}

pub struct PeerConnection {
    net: ClusterNetwork,
    target: NodeId,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for ClusterNetwork {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerConnection {
        PeerConnection {
            net: self.clone(),
            target,
            addr: node.addr.trim_end_matches('/').to_string(),
        }
    }
}

impl PeerConnection {
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let result = self.send(path, req, option).await;
        match &result {
            Ok(_) | Err(RPCError::RemoteError(_)) => {
                self.net.contacts.reached(self.target, &self.addr)
            }
            Err(e) => self
                .net
                .contacts
                .missed(self.target, &self.addr, &e.to_string()),
        }
        result
    }

    async fn send<Req, Resp, E>(
        &self,
        path: &str,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let url = format!("{}/_cluster/raft/{path}", self.addr);
        let response = self
            .net
            .client
            .post(url)
            .header(JOIN_KEY_HEADER, &self.net.join_key)
            .timeout(option.hard_ttl())
            .json(req)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    RPCError::Unreachable(Unreachable::new(&e))
                } else {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
        if !response.status().is_success() {
            let err = std::io::Error::other(format!("peer answered HTTP {}", response.status()));
            return Err(RPCError::Network(NetworkError::new(&err)));
        }
        let result: Result<Resp, E> = response
            .json()
            .await
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call("append", &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call("snapshot", &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call("vote", &rpc, &option).await
    }
}
