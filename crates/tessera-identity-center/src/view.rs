//! The replicated view of sso-admin configuration: instances, trusted token issuers,
//! applications and their settings, as the token endpoint reads them on every exchange.
//! sso-admin writes go through [`IdentityCenterView::write`] (read-your-writes on the replica
//! that wrote; other replicas reload within a second on the `identity-center` counter).

use crate::model::{self, Kind};
use async_trait::async_trait;
use imbl::{HashMap, OrdMap};
use serde_json::Value;
use std::sync::Arc;
use tessera_policy::{Policy, PolicyKind};
use tessera_store::view::{Projection, View};
use tessera_store::{
    AppSettingRecord, ChangeCounters, IdentityCenterStore, InstanceRecord, SsoObjectRecord,
    StoreError,
};

/// A stored object with its parsed document.
#[derive(Debug, Clone)]
pub struct Object {
    pub record: SsoObjectRecord,
    pub document: Value,
}

type Settings = HashMap<String, HashMap<String, OrdMap<String, Arc<Value>>>>;

/// One immutable snapshot of the configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    instances: HashMap<String, Arc<InstanceRecord>>,
    objects: HashMap<String, Arc<Object>>,
    /// application ARN → setting kind → key → document.
    settings: Settings,
    /// application ARN → its IAM authentication method's ActorPolicy, parsed.
    actor_policies: HashMap<String, Arc<Policy>>,
}

impl Config {
    pub fn instance(&self, arn: &str) -> Option<&InstanceRecord> {
        self.instances.get(arn).map(|i| i.as_ref())
    }

    /// The object with this ARN, if it is of `kind`.
    pub fn object(&self, arn: &str, kind: Kind) -> Option<&Object> {
        self.objects
            .get(arn)
            .map(|o| o.as_ref())
            .filter(|o| o.record.kind == kind.as_str())
    }

    /// The application's ActorPolicy (`PutApplicationAuthenticationMethod`, type `IAM`).
    pub fn actor_policy(&self, app: &str) -> Option<&Policy> {
        self.actor_policies.get(app).map(|p| p.as_ref())
    }

    pub fn setting(&self, app: &str, kind: model::AppSetting, key: &str) -> Option<&Value> {
        self.settings
            .get(app)?
            .get(kind.as_str())?
            .get(key)
            .map(|v| v.as_ref())
    }

    /// An application's settings of one kind, ordered by key.
    pub fn settings(
        &self,
        app: &str,
        kind: model::AppSetting,
    ) -> impl Iterator<Item = (&String, &Value)> {
        self.settings
            .get(app)
            .and_then(|k| k.get(kind.as_str()))
            .into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (k, v.as_ref())))
    }

    fn put_object(&mut self, o: SsoObjectRecord) {
        let document = serde_json::from_str(&o.document).unwrap_or(Value::Null);
        self.objects.insert(
            o.arn.clone(),
            Arc::new(Object {
                record: o,
                document,
            }),
        );
    }

    fn put_setting(&mut self, s: AppSettingRecord) {
        let doc: Value = serde_json::from_str(&s.document).unwrap_or(Value::Null);
        if s.kind == model::AppSetting::AuthenticationMethod.as_str() && s.key == "IAM" {
            match Policy::parse(&doc["Iam"]["ActorPolicy"].to_string(), PolicyKind::Resource) {
                Ok(p) => {
                    self.actor_policies
                        .insert(s.application_arn.clone(), Arc::new(p));
                }
                Err(e) => {
                    tracing::warn!(application = %s.application_arn, error = %e, "a stored ActorPolicy does not parse");
                    self.actor_policies.remove(&s.application_arn);
                }
            }
        }
        let mut kinds = self
            .settings
            .get(&s.application_arn)
            .cloned()
            .unwrap_or_default();
        let mut keys = kinds.get(&s.kind).cloned().unwrap_or_default();
        keys.insert(s.key, Arc::new(doc));
        kinds.insert(s.kind, keys);
        self.settings.insert(s.application_arn, kinds);
    }
}

/// A configuration write, read back from the store.
#[derive(Debug, Clone)]
pub enum Change {
    Instance(InstanceRecord),
    Object(SsoObjectRecord),
    /// An object is gone (an application's settings with it).
    ObjectDeleted(String),
    Setting(AppSettingRecord),
    SettingDeleted {
        application_arn: String,
        kind: String,
        key: String,
    },
}

pub struct ConfigProjection {
    store: Arc<dyn IdentityCenterStore>,
}

#[async_trait]
impl Projection for ConfigProjection {
    type Snapshot = Config;
    type Change = Change;

    const NAME: &'static str = "identity-center";
    const COUNTER: &'static str = model::COUNTER;

    async fn load(&self) -> Result<Config, StoreError> {
        let t = self.store.sso_config_tables().await?;
        let mut c = Config::default();
        for i in t.instances {
            c.instances.insert(i.instance_arn.clone(), Arc::new(i));
        }
        for o in t.objects {
            c.put_object(o);
        }
        for s in t.settings {
            c.put_setting(s);
        }
        Ok(c)
    }

    fn apply(&self, c: &Config, change: &Change) -> Config {
        let mut c = c.clone();
        match change.clone() {
            Change::Instance(i) => {
                c.instances.insert(i.instance_arn.clone(), Arc::new(i));
            }
            Change::Object(o) => c.put_object(o),
            Change::ObjectDeleted(arn) => {
                c.objects.remove(&arn);
                c.settings.remove(&arn);
                c.actor_policies.remove(&arn);
            }
            Change::Setting(s) => c.put_setting(s),
            Change::SettingDeleted {
                application_arn,
                kind,
                key,
            } => {
                if kind == model::AppSetting::AuthenticationMethod.as_str() && key == "IAM" {
                    c.actor_policies.remove(&application_arn);
                }
                if let Some(mut kinds) = c.settings.get(&application_arn).cloned() {
                    if let Some(mut keys) = kinds.get(&kind).cloned() {
                        keys.remove(&key);
                        kinds.insert(kind, keys);
                    }
                    c.settings.insert(application_arn, kinds);
                }
            }
        }
        c
    }
}

pub type IdentityCenterView = View<ConfigProjection>;

pub async fn load_view(
    store: Arc<dyn IdentityCenterStore>,
    counters: Arc<dyn ChangeCounters>,
) -> Result<IdentityCenterView, StoreError> {
    View::load(ConfigProjection { store }, counters).await
}
