//! What the development world keeps between runs of `tessera dev --data-dir DIR`, in
//! `DIR/dev-world/state.json` (readable by its owner only): the identity provider's signing
//! key, tenant and client ids, its users and their passwords, the ports it and the demo last
//! listened on, and the credentials the demo application holds. Everything else lives in
//! Tessera itself and is found again through its APIs.

use anyhow::{Context, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A directory user of the development identity provider.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DevUser {
    /// What the user types at the sign-in page.
    pub username: String,
    pub password: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    /// The user's object id at the provider (Entra's `oid`), provisioned to Identity Center as
    /// the user's external id.
    pub oid: String,
    /// Display names of the directory groups the user belongs to.
    pub groups: Vec<String>,
}

impl DevUser {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

/// The identity provider's lasting part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdpState {
    pub port: u16,
    /// Entra's tenant id: part of the issuer URL (`/{tenant}/v2.0`).
    pub tenant_id: String,
    /// The demo application's client id at the provider (the `aud` of its tokens).
    pub client_id: String,
    /// The ES256 signing key, PKCS#8, base64.
    pub signing_key: String,
    pub users: Vec<DevUser>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub idp: Option<IdpState>,
    #[serde(default)]
    pub demo_port: Option<u16>,
    /// The access key of the IAM user the demo application runs as (id, secret).
    #[serde(default)]
    pub app_key: Option<(String, String)>,
    /// The operator token the demo reads the audit trail with.
    #[serde(default)]
    pub operator_token: Option<String>,
    /// The SCIM token the world's users and groups are provisioned with.
    #[serde(default)]
    pub scim_token: Option<String>,
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("dev-world").join("state.json")
}

impl State {
    pub fn load(data_dir: &Path) -> Result<State> {
        match std::fs::read(path(data_dir)) {
            Ok(b) => serde_json::from_slice(&b).context("dev-world/state.json is not valid"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).context("reading dev-world/state.json"),
        }
    }

    /// Write atomically, readable by the owner only.
    pub fn save(&self, data_dir: &Path) -> Result<()> {
        let p = path(data_dir);
        let dir = p.parent().expect("a parent");
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)?;
        let tmp = p.with_extension("tmp");
        {
            use std::io::Write;
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                o.mode(0o600);
            }
            let mut f = o.open(&tmp)?;
            f.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &p)?;
        Ok(())
    }
}

/// A password that is easy to read out and type: three words and a number.
pub fn new_password() -> String {
    const WORDS: &[&str] = &[
        "amber", "basil", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo",
        "juniper", "kestrel", "lagoon", "maple", "nectar", "orchid", "pepper", "quartz", "river",
        "saffron", "tundra", "umber", "violet", "willow", "yarrow", "zephyr",
    ];
    let mut rng = rand::rng();
    let mut w = || WORDS[rng.random_range(0..WORDS.len())];
    let (a, b, c) = (w(), w(), w());
    let n: u16 = rand::rng().random_range(10..100);
    format!("{a}-{b}-{c}-{n}")
}

/// The seeds' directory: Mateo Jackson of the Red Project Group (seed 000), and Saanvi Sarkar
/// of the Blue Project Group.
pub fn seeded_users() -> Vec<DevUser> {
    let user = |username: &str, given: &str, family: &str, group: &str| DevUser {
        username: username.to_owned(),
        password: new_password(),
        given_name: given.to_owned(),
        family_name: family.to_owned(),
        email: format!("{username}@example.com"),
        oid: uuid::Uuid::new_v4().to_string(),
        groups: vec![group.to_owned()],
    };
    vec![
        user("mateo.jackson", "Mateo", "Jackson", crate::RED_GROUP),
        user("saanvi.sarkar", "Saanvi", "Sarkar", crate::BLUE_GROUP),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_privately() {
        let dir = tempfile::tempdir().unwrap();
        assert!(State::load(dir.path()).unwrap().idp.is_none());
        let s = State {
            demo_port: Some(4580),
            app_key: Some(("AKIA".into(), "secret".into())),
            ..State::default()
        };
        s.save(dir.path()).unwrap();
        let again = State::load(dir.path()).unwrap();
        assert_eq!(again.demo_port, Some(4580));
        assert_eq!(again.app_key, s.app_key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn passwords_are_words() {
        let p = new_password();
        assert_eq!(p.split('-').count(), 4, "{p}");
        assert_ne!(new_password(), new_password());
    }
}
