//! A [`Store`] on its own OS thread, driven from async code.
//!
//! SQLite calls block: a slow disk or a long purge must not stall the tokio
//! workers that serve HTTP and run the scraper (reference fault 10). One
//! thread owns the store and runs jobs in arrival order, so writes never
//! contend with each other and no connection pool is needed.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use super::{Generation, Store, StoreError};

type Job = Box<dyn FnOnce(&mut Store) + Send + 'static>;

/// After this long without a job the store releases its page cache: an idle
/// server then holds little more than its code, and the next request reads
/// its few pages back from the OS cache in microseconds.
const IDLE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// A cloneable handle to the storage thread.
#[derive(Clone, Debug)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
    generation: Generation,
}

impl StoreHandle {
    /// Moves `store` onto a new thread named `pulse-store`. The thread ends
    /// when the last handle is dropped.
    pub fn spawn(store: Store) -> StoreHandle {
        let (jobs, rx) = mpsc::channel::<Job>();
        let generation = store.generation();
        let spawned = std::thread::Builder::new()
            .name("pulse-store".into())
            .spawn(move || {
                let mut store = store;
                let mut idle = false;
                loop {
                    let job = match rx.recv_timeout(IDLE_AFTER) {
                        Ok(job) => job,
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            // Once per quiet spell: hand SQLite's page cache back.
                            if !idle {
                                store.release_memory();
                                idle = true;
                            }
                            continue;
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    };
                    idle = false;
                    // A panicking job must not take the storage thread down:
                    // its caller sees `Closed`; the transaction it held, if
                    // any, was rolled back when it unwound.
                    if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut store))).is_err() {
                        tracing::error!("a storage job panicked; continuing");
                    }
                }
            });
        if let Err(err) = spawned {
            // Every call will then report `Closed`.
            tracing::error!(error = %err, "cannot start the storage thread");
        }
        StoreHandle { jobs, generation }
    }

    /// How many writes the store has begun: an answer read after this
    /// value stays true while it is unchanged (see [`Generation`]).
    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    /// Runs `f` on the storage thread and returns its result.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> R + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |store: &mut Store| {
                // The caller may have stopped waiting; the result is then dropped.
                let _ = tx.send(f(store));
            }))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)
    }
}
