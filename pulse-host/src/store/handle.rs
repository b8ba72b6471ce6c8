//! A [`Store`] on its own OS thread, driven from async code.
//!
//! SQLite calls block: a slow disk or a long purge must not stall the tokio
//! workers that serve HTTP and run the scraper (reference fault 10). One
//! thread owns the store and runs jobs in arrival order, so writes never
//! contend with each other and no connection pool is needed.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use super::{Store, StoreError};

type Job = Box<dyn FnOnce(&mut Store) + Send + 'static>;

/// A cloneable handle to the storage thread.
#[derive(Clone, Debug)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
}

impl StoreHandle {
    /// Moves `store` onto a new thread named `pulse-store`. The thread ends
    /// when the last handle is dropped.
    pub fn spawn(store: Store) -> StoreHandle {
        let (jobs, rx) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("pulse-store".into())
            .spawn(move || {
                let mut store = store;
                while let Ok(job) = rx.recv() {
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
        StoreHandle { jobs }
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
