//! User revocations as a replicated view: `tessera sessions revoke --user ID` (or the admin
//! API) records when a directory user was revoked; every session and token carrying that user
//! and issued at or before then is refused, checked in memory on each request.

use async_trait::async_trait;
use imbl::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_store::view::{Projection, View};
use tessera_store::{ChangeCounters, StoreError, TokenStore};

/// The change counter revocations bump.
pub const REVOCATIONS_COUNTER: &str = "revocations";

/// User id → the time (unix seconds) before which (inclusive) its sessions are void.
#[derive(Debug, Clone, Default)]
pub struct Revocations(HashMap<String, i64>);

impl Revocations {
    /// Is something carrying `user_id`, issued at `issued_at`, void?
    pub fn is_revoked(&self, user_id: &str, issued_at: i64) -> bool {
        self.0.get(user_id).is_some_and(|at| issued_at <= *at)
    }
}

pub struct RevocationProjection {
    store: Arc<dyn TokenStore>,
}

#[async_trait]
impl Projection for RevocationProjection {
    type Snapshot = Revocations;
    /// (user id, revoked at).
    type Change = (String, i64);

    const NAME: &'static str = "revocations";
    const COUNTER: &'static str = REVOCATIONS_COUNTER;

    fn max_age(&self) -> Duration {
        Duration::from_secs(30)
    }

    async fn load(&self) -> Result<Revocations, StoreError> {
        Ok(Revocations(
            self.store.list_revocations().await?.into_iter().collect(),
        ))
    }

    fn apply(&self, r: &Revocations, (user, at): &(String, i64)) -> Revocations {
        Revocations(r.0.update(user.clone(), *at))
    }
}

pub type RevocationView = View<RevocationProjection>;

pub async fn load_view(
    store: Arc<dyn TokenStore>,
    counters: Arc<dyn ChangeCounters>,
) -> Result<RevocationView, StoreError> {
    View::load(RevocationProjection { store }, counters).await
}

/// Revoke `user_id` as of `at`: store it, bump the counter, fold it into this replica's view.
/// Other replicas see it within a second (the refresher polls the counter).
pub async fn revoke(
    view: &RevocationView,
    store: &dyn TokenStore,
    user_id: &str,
    at: i64,
) -> Result<(), StoreError> {
    store.revoke_user(user_id, at).await?;
    view.write((user_id.to_owned(), at)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_means_issued_at_or_before() {
        let r = Revocations(HashMap::new().update("u".to_owned(), 100));
        assert!(r.is_revoked("u", 99));
        assert!(r.is_revoked("u", 100));
        assert!(!r.is_revoked("u", 101));
        assert!(!r.is_revoked("v", 1));
    }
}
