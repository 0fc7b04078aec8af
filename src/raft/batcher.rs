//! Group commit for the hot writes. Token issues and revocations that arrive while earlier
//! ones are still being committed ride together in one `Command::Batch` log entry: one Raft
//! round trip, one forwarded call from a follower, one fsync and one state-machine
//! transaction for the lot. At low load a write goes alone at once, so nothing waits for a
//! batch to fill.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};

use super::command::{Command, CommandResponse};
use super::writer::{WriteError, Writer};

type WriteResult = Result<CommandResponse, WriteError>;

/// Most commands in one log entry: bounds the entry size (~1 KiB a token record) and the
/// time the state machine spends in one transaction.
pub const MAX_BATCH: usize = 256;
/// Batches committing at once. More than one keeps the pipeline full while a batch waits
/// for its fsync and replication; few enough that a backlog turns into bigger batches.
const MAX_IN_FLIGHT: usize = 2;

struct Pending {
    cmd: Command,
    reply: oneshot::Sender<WriteResult>,
}

#[derive(Clone)]
pub struct WriteBatcher {
    queue: mpsc::UnboundedSender<Pending>,
}

impl WriteBatcher {
    /// The batcher and the receiving end its task drains (see [`run`]).
    pub fn new() -> (WriteBatcher, BatchQueue) {
        let (queue, rx) = mpsc::unbounded_channel();
        (WriteBatcher { queue }, BatchQueue(rx))
    }

    /// Commit `cmd` (alone or in a batch) and return its own response.
    pub async fn write(&self, cmd: Command) -> WriteResult {
        let stopping = || WriteError::Unavailable("the node is shutting down".into());
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { cmd, reply })
            .map_err(|_| stopping())?;
        answer.await.map_err(|_| stopping())?
    }
}

pub struct BatchQueue(mpsc::UnboundedReceiver<Pending>);

/// Drains the queue into batches until every batcher handle is dropped.
pub async fn run(writer: Writer, BatchQueue(mut rx): BatchQueue) {
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        // Wait for a free slot first: while all slots are busy, requests pile up in the
        // queue and the next batch takes them all.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let writer = writer.clone();
        tokio::spawn(async move {
            commit(&writer, batch).await;
            drop(permit);
        });
    }
}

async fn commit(writer: &Writer, mut batch: Vec<Pending>) {
    if batch.len() == 1 {
        if let Some(Pending { cmd, reply }) = batch.pop() {
            let _ = reply.send(writer.write(cmd).await);
        }
        return;
    }
    let (commands, replies): (Vec<Command>, Vec<_>) =
        batch.into_iter().map(|p| (p.cmd, p.reply)).unzip();
    let count = commands.len();
    match writer.write(Command::Batch { commands }).await {
        Ok(CommandResponse::Batch(responses)) if responses.len() == count => {
            for (reply, response) in replies.into_iter().zip(responses) {
                let _ = reply.send(Ok(response));
            }
        }
        Ok(other) => {
            let message = format!("batch answered {other:?}");
            tracing::error!(%message);
            for reply in replies {
                let _ = reply.send(Err(WriteError::Unexpected(message.clone())));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
