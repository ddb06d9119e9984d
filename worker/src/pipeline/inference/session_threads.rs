//! The threads that own ONNX Runtime sessions, fed through one channel.
//!
//! Why joined on drop: a session still alive while the process exits is destroyed after
//! (or while) ONNX Runtime's and CUDA's libraries tear themselves down, which crashed
//! `facefix restore --device cuda` with a segfault after its output was written (seen on
//! an H200). Dropping the last handle closes the channel, each thread leaves its receive
//! loop and drops its session, and the drop waits for that.

use crossbeam_channel::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;

/// The sending side of the session threads; clones share them. The threads end, and are
/// joined, when the last clone is dropped.
pub struct SessionThreads<T> {
    shared: Arc<Owned<T>>,
}

impl<T> Clone for SessionThreads<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

struct Owned<T> {
    tx: Option<Sender<T>>,
    handles: Vec<JoinHandle<()>>,
}

/// Collects the threads while they are started; [`Builder::finish`] seals them.
pub struct Builder<T> {
    owned: Owned<T>,
}

impl<T> Builder<T> {
    pub fn new(tx: Sender<T>) -> Self {
        Self {
            owned: Owned {
                tx: Some(tx),
                handles: Vec::new(),
            },
        }
    }

    /// Starts one session thread. If this fails, dropping the builder joins the threads
    /// already started.
    pub fn spawn(
        &mut self,
        name: String,
        serve: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<()> {
        let handle = std::thread::Builder::new().name(name).spawn(serve)?;
        self.owned.handles.push(handle);
        Ok(())
    }

    pub fn finish(self) -> SessionThreads<T> {
        SessionThreads {
            shared: Arc::new(self.owned),
        }
    }
}

impl<T> SessionThreads<T> {
    pub fn sender(&self) -> &Sender<T> {
        // Some until the drop that takes it.
        self.shared
            .tx
            .as_ref()
            .unwrap_or_else(|| unreachable!("the sender is taken only on drop"))
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        drop(self.tx.take());
        for handle in self.handles.drain(..) {
            // A thread that panicked has already reported it; its session is gone too.
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn dropping_the_last_clone_ends_and_joins_every_thread() {
        let (tx, rx) = crossbeam_channel::unbounded::<u32>();
        let finished = Arc::new(AtomicUsize::new(0));
        let mut builder = Builder::new(tx);
        for i in 0..3 {
            let (rx, finished) = (rx.clone(), Arc::clone(&finished));
            builder
                .spawn(format!("t{i}"), move || {
                    while rx.recv().is_ok() {}
                    finished.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap_or_else(|e| panic!("spawn: {e}"));
        }
        drop(rx);
        let threads = builder.finish();
        let clone = threads.clone();
        threads.sender().send(1).unwrap_or_else(|e| panic!("{e}"));
        drop(threads);
        assert_eq!(
            finished.load(Ordering::SeqCst),
            0,
            "a clone still holds them"
        );
        drop(clone);
        assert_eq!(finished.load(Ordering::SeqCst), 3);
    }
}
