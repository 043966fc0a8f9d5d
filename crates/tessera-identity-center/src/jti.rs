//! The `jti` replay check with group commit. Concurrent exchanges hand their assertion ids to
//! one writer, which records everything that is waiting in one transaction: one commit (one
//! fsync) serves many requests under load, and a lone request waits for no one. The store's
//! unique key decides, so a replay is refused on every replica.

use std::sync::{Arc, OnceLock};
use tessera_store::{StoreError, TokenStore};
use tokio::sync::{mpsc, oneshot};

/// Most ids recorded in one transaction.
const MAX_BATCH: usize = 512;

type Entry = (String, String, i64);
type Pending = (Entry, oneshot::Sender<Result<bool, String>>);

#[derive(Debug)]
pub struct JtiLog {
    store: Arc<dyn TokenStore>,
    writer: OnceLock<mpsc::Sender<Pending>>,
}

impl JtiLog {
    pub fn new(store: Arc<dyn TokenStore>) -> JtiLog {
        JtiLog {
            store,
            writer: OnceLock::new(),
        }
    }

    /// Record `jti` of `issuer` (kept until `expires_at`): true when it was new, false for a
    /// replay. Must be called inside a tokio runtime (the writer starts on first use).
    pub async fn record(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let writer = self.writer.get_or_init(|| {
            let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
            tokio::spawn(write_batches(self.store.clone(), rx));
            tx
        });
        let (done, result) = oneshot::channel();
        let stopped = || StoreError::Backend("the jti writer has stopped".into());
        writer
            .send(((issuer.to_owned(), jti.to_owned(), expires_at), done))
            .await
            .map_err(|_| stopped())?;
        result
            .await
            .map_err(|_| stopped())?
            .map_err(StoreError::Backend)
    }
}

async fn write_batches(store: Arc<dyn TokenStore>, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let entries: Vec<Entry> = batch.iter().map(|(e, _)| e.clone()).collect();
        match store.record_jtis(&entries).await {
            Ok(results) => {
                for ((_, done), new) in batch.into_iter().zip(results) {
                    let _ = done.send(Ok(new));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batch = entries.len(), "recording assertion ids failed");
                for (_, done) in batch {
                    let _ = done.send(Err(e.to_string()));
                }
            }
        }
    }
}
