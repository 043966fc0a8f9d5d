//! Replicated views: immutable in-memory snapshots of store state, swapped atomically.
//!
//! A hot path (authorising a request, opening a session token, matching a grant) must not
//! query the store. It reads a [`View`]: one immutable snapshot, served lock-free
//! ([`View::get`]), replaced whole when the store changes. The contract, for every view:
//!
//! - **Read-your-writes on the replica that wrote.** A write bumps the view's change counter
//!   and hands the view the changed rows it has just read back ([`View::write`]); the
//!   projection folds them into a new snapshot ([`Projection::apply`]). Nothing is reloaded in
//!   full inside a request.
//! - **Fresh within one second elsewhere.** One [`Refresher`] (registered in the composition
//!   root) polls every view's counter each second and reloads a view whose counter moved, off
//!   the request path. A view is also reloaded when older than [`Projection::max_age`] (state
//!   that depends on time, and a safety net against a write whose counter bump failed).
//! - **One query per table.** [`Projection::load`] reads each table once, never per row.
//!
//! A local write that lands while a full reload is in flight is folded into the reloaded
//! snapshot too, and the view reloads once more at the next tick (the reload may have read
//! that key before or after the write).

use crate::{ChangeCounters, Result};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a view holds and how it is built from the store.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// The immutable snapshot readers see.
    type Snapshot: Send + Sync + 'static;
    /// A change written on this replica, already read back from the store.
    type Change: Clone + Send + Sync + 'static;

    /// A name for logs and metrics (`iam-principals`, `session-keys`).
    const NAME: &'static str;
    /// The change counter every write this view reflects bumps.
    const COUNTER: &'static str;
    /// Reload in full at least this often even when the counter has not moved.
    fn max_age(&self) -> Duration {
        Duration::from_secs(60)
    }
    /// Build a snapshot from the store, one query per table.
    async fn load(&self) -> Result<Self::Snapshot>;
    /// Catch `current` up with the store incrementally, when the store can say what changed
    /// since it (a view too large to reload within its freshness bound). `None`: reload in full.
    async fn load_since(&self, _current: &Self::Snapshot) -> Result<Option<Self::Snapshot>> {
        Ok(None)
    }
    /// A new snapshot: `snapshot` with `change` folded in. Cheap (persistent maps), since it
    /// runs inside the request that wrote.
    fn apply(&self, snapshot: &Self::Snapshot, change: &Self::Change) -> Self::Snapshot;
}

struct State<C> {
    /// The counter value the current snapshot reflects (-1: reload at the next refresh).
    generation: i64,
    loaded_at: Instant,
    /// A full reload is in flight: local changes are kept to be folded into its result.
    reloading: bool,
    pending: Vec<C>,
}

/// A replicated view of store state (see the module documentation).
pub struct View<P: Projection> {
    projection: P,
    counters: Arc<dyn ChangeCounters>,
    current: ArcSwap<P::Snapshot>,
    state: Mutex<State<P::Change>>,
    reload: tokio::sync::Mutex<()>,
}

impl<P: Projection> std::fmt::Debug for View<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("name", &P::NAME)
            .field("generation", &self.lock().generation)
            .finish()
    }
}

impl<P: Projection> View<P> {
    /// Load the view for the first time.
    pub async fn load(projection: P, counters: Arc<dyn ChangeCounters>) -> Result<View<P>> {
        let generation = counters.generation(P::COUNTER).await?;
        let snapshot = projection.load().await?;
        Ok(View {
            projection,
            counters,
            current: ArcSwap::from_pointee(snapshot),
            state: Mutex::new(State {
                generation,
                loaded_at: Instant::now(),
                reloading: false,
                pending: Vec::new(),
            }),
            reload: tokio::sync::Mutex::new(()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<P::Change>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current snapshot: one consistent view for a whole decision. Lock-free.
    pub fn get(&self) -> Arc<P::Snapshot> {
        self.current.load_full()
    }

    /// Replace the snapshot outright until the next reload (tests that need a state the
    /// store alone cannot give, such as a key ring as of a later time).
    pub fn set(&self, snapshot: P::Snapshot) {
        let _st = self.lock();
        self.current.store(Arc::new(snapshot));
    }

    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// The counter value the current snapshot reflects.
    pub fn generation(&self) -> i64 {
        self.lock().generation
    }

    /// A write on this replica: bump the view's counter (so other replicas reload) and fold
    /// `change` into this replica's snapshot at once (read-your-writes). `change` must have
    /// been read from the store after the write. The snapshot changes even if the bump fails
    /// (then other replicas catch up at their next full reload) and the error is returned.
    pub async fn write(&self, change: P::Change) -> Result<()> {
        let bumped = self.counters.bump_generation(P::COUNTER).await;
        self.apply_local(&change, bumped.as_ref().ok().copied());
        bumped.map(|_| ())
    }

    fn apply_local(&self, change: &P::Change, bumped: Option<i64>) {
        let mut st = self.lock();
        let next = self.projection.apply(&self.current.load(), change);
        self.current.store(Arc::new(next));
        // When nobody else wrote since our snapshot, it now reflects the bumped value.
        if let Some(g) = bumped
            && st.generation == g - 1
        {
            st.generation = g;
        }
        if st.reloading {
            st.pending.push(change.clone());
        }
    }

    /// Reload if the counter moved or the snapshot is older than its maximum age. Returns
    /// whether it reloaded.
    pub async fn refresh(&self) -> Result<bool> {
        let g = self.counters.generation(P::COUNTER).await?;
        let (seen, age) = {
            let st = self.lock();
            (st.generation, st.loaded_at.elapsed())
        };
        if g == seen && age < self.projection.max_age() {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// Load everything afresh (one load at a time).
    pub async fn reload(&self) -> Result<()> {
        let _one_at_a_time = self.reload.lock().await;
        {
            let mut st = self.lock();
            st.reloading = true;
            st.pending.clear();
        }
        // Read the counter first: a write during the load bumps it again and the next refresh
        // reloads.
        let loaded = async {
            let g = self.counters.generation(P::COUNTER).await?;
            let current = self.current.load_full();
            let snapshot = match self.projection.load_since(&current).await? {
                Some(s) => s,
                None => self.projection.load().await?,
            };
            Ok::<_, crate::StoreError>((g, snapshot))
        }
        .await;
        let mut st = self.lock();
        st.reloading = false;
        let (generation, mut snapshot) = match loaded {
            Ok(v) => v,
            Err(e) => {
                st.pending.clear();
                return Err(e);
            }
        };
        let refolded = !st.pending.is_empty();
        for c in st.pending.drain(..) {
            snapshot = self.projection.apply(&snapshot, &c);
        }
        self.current.store(Arc::new(snapshot));
        st.generation = if refolded { -1 } else { generation };
        st.loaded_at = Instant::now();
        Ok(())
    }
}

/// What the [`Refresher`] needs of a view, whatever its projection.
#[async_trait]
pub trait Refresh: Send + Sync {
    fn name(&self) -> &'static str;
    async fn refresh(&self) -> Result<bool>;
}

#[async_trait]
impl<P: Projection> Refresh for View<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    async fn refresh(&self) -> Result<bool> {
        View::refresh(self).await
    }
}

/// Keeps every registered view fresh: polls each view's change counter once per interval.
#[derive(Default)]
pub struct Refresher {
    views: Vec<Arc<dyn Refresh>>,
}

impl std::fmt::Debug for Refresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.views.iter().map(|v| v.name()))
            .finish()
    }
}

impl Refresher {
    pub fn new() -> Refresher {
        Refresher::default()
    }

    /// Keep `view` fresh too.
    pub fn register(&mut self, view: Arc<dyn Refresh>) -> &mut Refresher {
        self.views.push(view);
        self
    }

    /// Refresh every view once; returns the names of those that reloaded.
    pub async fn tick(&self) -> Vec<&'static str> {
        let mut reloaded = Vec::new();
        for v in &self.views {
            match v.refresh().await {
                Ok(true) => reloaded.push(v.name()),
                Ok(false) => {}
                Err(e) => tracing::warn!(view = v.name(), error = %e, "refreshing a view failed"),
            }
        }
        reloaded
    }

    /// Run [`Refresher::tick`] every `interval` until the task is aborted.
    pub fn spawn(self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut t = tokio::time::interval(interval);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t.tick().await;
            loop {
                t.tick().await;
                self.tick().await;
            }
        })
    }
}
