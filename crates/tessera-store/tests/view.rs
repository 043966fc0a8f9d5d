//! The replicated-view contract on a real (SQLite) store, with a small projection: the set of
//! accounts. Read-your-writes on the replica that wrote; other replicas follow the change
//! counter; a write that does not bump the counter waits for the full reload.

use async_trait::async_trait;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tessera_store::view::{Projection, Refresher, View};
use tessera_store::{IamStore, Store, StoreError};

#[derive(Debug)]
struct Accounts {
    store: Arc<dyn IamStore>,
    loads: Arc<AtomicUsize>,
    max_age: Duration,
    /// When set, a load reads the store, then waits here before returning.
    gate: Option<Arc<tokio::sync::Semaphore>>,
}

#[async_trait]
impl Projection for Accounts {
    type Snapshot = BTreeSet<String>;
    type Change = String;

    const NAME: &'static str = "accounts";
    const COUNTER: &'static str = "accounts";

    fn max_age(&self) -> Duration {
        self.max_age
    }

    async fn load(&self) -> Result<BTreeSet<String>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let read: BTreeSet<String> = self.store.list_accounts().await?.into_iter().collect();
        if let Some(g) = &self.gate {
            g.acquire().await.unwrap().forget();
        }
        Ok(read)
    }

    fn apply(&self, s: &BTreeSet<String>, added: &String) -> BTreeSet<String> {
        let mut next = s.clone();
        next.insert(added.clone());
        next
    }
}

async fn replica(
    url: &str,
    max_age: Duration,
) -> (Arc<dyn Store>, Arc<View<Accounts>>, Arc<AtomicUsize>) {
    gated_replica(url, max_age, None).await
}

async fn gated_replica(
    url: &str,
    max_age: Duration,
    gate: Option<Arc<tokio::sync::Semaphore>>,
) -> (Arc<dyn Store>, Arc<View<Accounts>>, Arc<AtomicUsize>) {
    let store = tessera_test_support::migrated(url).await;
    let loads = Arc::new(AtomicUsize::new(0));
    let view = View::load(
        Accounts {
            store: store.clone(),
            loads: loads.clone(),
            max_age,
            gate,
        },
        store.clone(),
    )
    .await
    .unwrap();
    (store, Arc::new(view), loads)
}

#[tokio::test]
async fn writes_are_read_back_here_and_followed_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let hour = Duration::from_secs(3600);
    let (a_store, a, a_loads) = replica(&url, hour).await;
    let (_b_store, b, b_loads) = replica(&url, hour).await;
    assert!(a.get().is_empty());

    // A writes and folds the change in: visible at once, without a reload.
    a_store.create_account("111111111111", 0).await.unwrap();
    a.write("111111111111".to_owned()).await.unwrap();
    assert!(a.get().contains("111111111111"));
    assert_eq!(
        a_loads.load(Ordering::SeqCst),
        1,
        "no reload for a local write"
    );
    assert!(
        !a.refresh().await.unwrap(),
        "A's snapshot already reflects the counter"
    );

    // B reloads because the counter moved, once.
    assert!(!b.get().contains("111111111111"));
    let mut refresher = Refresher::new();
    refresher.register(b.clone());
    assert_eq!(refresher.tick().await, vec!["accounts"]);
    assert!(b.get().contains("111111111111"));
    assert_eq!(b_loads.load(Ordering::SeqCst), 2);
    assert!(
        refresher.tick().await.is_empty(),
        "nothing moved: no reload"
    );

    // A write that bumps no counter is not followed until the snapshot is too old.
    a_store.create_account("222222222222", 0).await.unwrap();
    assert!(!b.refresh().await.unwrap());
    assert!(!b.get().contains("222222222222"));
    b.reload().await.unwrap();
    assert!(b.get().contains("222222222222"));
}

#[tokio::test]
async fn old_snapshots_are_reloaded_and_readers_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let (store, v, loads) = replica(&url, Duration::ZERO).await;
    let before = v.get();
    store.create_account("333333333333", 0).await.unwrap();
    // Max age zero: every refresh reloads, even with the counter unmoved.
    assert!(v.refresh().await.unwrap());
    assert_eq!(loads.load(Ordering::SeqCst), 2);
    assert!(v.get().contains("333333333333"));
    // A reader holding the old snapshot still sees it whole.
    assert!(!before.contains("333333333333"));
}

#[tokio::test]
async fn a_local_write_during_a_reload_is_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let gate = Arc::new(tokio::sync::Semaphore::new(1)); // the first load passes
    let (store, v, loads) =
        gated_replica(&url, Duration::from_secs(3600), Some(gate.clone())).await;
    // A full reload starts and reads the store (no account yet), then waits at the gate ...
    let reloading = {
        let v = v.clone();
        tokio::spawn(async move { v.reload().await.unwrap() })
    };
    while loads.load(Ordering::SeqCst) < 2 {
        tokio::task::yield_now().await;
    }
    // ... while this replica writes and folds its change in.
    store.create_account("444444444444", 0).await.unwrap();
    v.write("444444444444".to_owned()).await.unwrap();
    assert!(v.get().contains("444444444444"));
    gate.add_permits(10);
    reloading.await.unwrap();
    // The reload read the store before the write, yet the write survives it ...
    assert!(
        v.get().contains("444444444444"),
        "local write lost by a reload"
    );
    // ... and the view reloads once more at the next refresh, then settles.
    assert_eq!(v.generation(), -1);
    assert!(v.refresh().await.unwrap());
    assert!(!v.refresh().await.unwrap());
    assert!(v.get().contains("444444444444"));
}
