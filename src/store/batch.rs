//! Group commit: callers hand work to a few tasks that store everything
//! waiting in one transaction, then answer each caller.
//!
//! SQLite takes one write at a time, and a transaction per request caps
//! throughput at the cost of a commit plus the hand-offs to its one writer
//! connection. Batching shares those among everyone waiting. Each caller
//! still waits for its own work to be committed, so an ack still means
//! stored. On PostgreSQL several batches run at once.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;

use tokio::sync::{Mutex, mpsc, oneshot};

use super::StoreError;

/// The front door of a group-commit task: `Item`s in, `Answer`s out.
pub struct Batcher<Item, Answer> {
    queue: mpsc::Sender<(Item, Reply<Answer>)>,
}

type Reply<Answer> = oneshot::Sender<Result<Answer, String>>;

impl<Item, Answer> Clone for Batcher<Item, Answer> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<Item: Send + 'static, Answer: Send + 'static> Batcher<Item, Answer> {
    /// Starts `workers` tasks, each taking up to `max` waiting items at a
    /// time and storing them with `store`, which answers each item in
    /// order. They end when the last `Batcher` is dropped.
    pub fn start<F, Fut>(name: &'static str, workers: usize, max: usize, store: F) -> Self
    where
        F: Fn(Vec<Item>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Vec<Result<Answer, String>>> + Send,
    {
        let (queue, waiting) = mpsc::channel::<(Item, Reply<Answer>)>(4 * max);
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..workers.max(1) {
            let (waiting, store) = (Arc::clone(&waiting), store.clone());
            tokio::spawn(async move {
                let mut batch = Vec::with_capacity(max);
                loop {
                    // Whoever holds the lock waits for the next items; the
                    // others are busy storing (or waiting their turn).
                    if waiting.lock().await.recv_many(&mut batch, max).await == 0 {
                        break;
                    }
                    let (items, answers): (Vec<Item>, Vec<Reply<Answer>>) = batch.drain(..).unzip();
                    let count = items.len();
                    // A panic while storing fails this batch, not the task:
                    // later items are still stored.
                    let results = match AssertUnwindSafe(store(items)).catch_unwind().await {
                        Ok(results) => results,
                        Err(_) => {
                            tracing::error!(batch = name, count, "storing a batch panicked; its items failed");
                            (0..count)
                                .map(|_| Err(format!("{name}: storing failed unexpectedly")))
                                .collect()
                        }
                    };
                    debug_assert_eq!(results.len(), answers.len(), "{name}: one answer per item");
                    for (answer, result) in answers.into_iter().zip(results) {
                        let _ = answer.send(result);
                    }
                }
            });
        }
        Self { queue }
    }

    /// Hands `item` over and waits for its answer (after its commit).
    pub async fn submit(&self, item: Item) -> Result<Answer, StoreError> {
        let (answer, answered) = oneshot::channel();
        let stopped = || StoreError::Db(sea_orm::DbErr::Custom("the storing task has stopped".into()));
        self.queue.send((item, answer)).await.map_err(|_| stopped())?;
        answered
            .await
            .map_err(|_| stopped())?
            .map_err(|e| StoreError::Db(sea_orm::DbErr::Custom(e)))
    }
}
