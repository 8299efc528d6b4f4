//! [`Recording`]: handle on a leg's recording in progress.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
    /// The leg's "recording" flag, released as soon as this recording is stopped.
    busy: Arc<AtomicBool>,
}

impl Recording {
    pub(crate) fn new(
        id: u64,
        file_name: String,
        cmds: mpsc::UnboundedSender<Cmd>,
        done: oneshot::Receiver<RecordingSummary>,
        busy: Arc<AtomicBool>,
    ) -> Self {
        Recording {
            id,
            file_name,
            cmds,
            done: Some(done),
            busy,
        }
    }

    /// Detach the recording from the leg: the stop goes into the leg's command queue, ahead
    /// of anything sent later, so the leg may start its next recording at once.
    fn detach(&mut self) {
        let _ = self.cmds.send(Cmd::RecordStop { id: self.id });
        self.busy.store(false, Ordering::Release);
    }

    /// Final file name (`NAME.wav`) inside the recordings directory.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Stop now (the leg takes no more audio into this file and may start another
    /// recording at once); the returned future waits until the file is durable (fsync,
    /// rename, hash) and gives the summary. It may be awaited on another task, so that
    /// nothing else waits on the disk. A disk error during the call shows as
    /// `complete == false` with `problems`.
    pub fn stop(
        mut self,
    ) -> impl Future<Output = Result<RecordingSummary, MediaError>> + Send + 'static {
        self.detach();
        let done = self.done.take();
        let file_name = self.file_name.clone();
        async move {
            match done {
                Some(rx) => rx.await.map_err(|_| MediaError::LegClosed(file_name)),
                None => Err(MediaError::LegClosed(file_name)),
            }
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if self.done.is_some() {
            self.detach();
        }
    }
}
