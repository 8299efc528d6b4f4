//! [`Recording`]: handle on a leg's recording in progress.

use crate::task::Cmd;
use crate::MediaError;
use madoguchi_media::recording::RecordingSummary;
use tokio::sync::{mpsc, oneshot};

/// A recording in progress. [`Recording::stop`] returns the summary
/// (SHA-256, duration, `complete`); dropping the handle also finishes the
/// file (the summary is then only logged). Closing the leg finishes it too,
/// and `stop` still returns the summary afterwards.
#[derive(Debug)]
pub struct Recording {
    id: u64,
    file_name: String,
    cmds: mpsc::UnboundedSender<Cmd>,
    done: Option<oneshot::Receiver<RecordingSummary>>,
}

impl Recording {
    pub(crate) fn new(
        id: u64,
        file_name: String,
        cmds: mpsc::UnboundedSender<Cmd>,
        done: oneshot::Receiver<RecordingSummary>,
    ) -> Self {
        Recording {
            id,
            file_name,
            cmds,
            done: Some(done),
        }
    }

    /// Final file name (`NAME.wav`) inside the recordings directory.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Stop, wait until the file is durable (fsync, rename, hash), return the summary.
    /// A disk error during the call shows as `complete == false` with `problems`.
    pub async fn stop(mut self) -> Result<RecordingSummary, MediaError> {
        let _ = self.cmds.send(Cmd::RecordStop { id: self.id });
        match self.done.take() {
            Some(rx) => rx
                .await
                .map_err(|_| MediaError::LegClosed(self.file_name.clone())),
            None => Err(MediaError::LegClosed(self.file_name.clone())),
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if self.done.is_some() {
            let _ = self.cmds.send(Cmd::RecordStop { id: self.id });
        }
    }
}
