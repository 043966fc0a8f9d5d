//! Named profiles, in a TOML file in the user's config directory:
//!
//! ```toml
//! [profiles.default]
//! issuer = "https://login.example.com/oauth2/default"
//! client_id = "0oa1b2c3d4"
//! scopes = ["openid", "profile", "email", "offline_access"]
//! loopback_port = 8090
//! endpoint_url = "http://127.0.0.1:4566"     # Tessera; leave out for AWS
//! region = "us-east-1"
//! web_identity_role_arn = "arn:aws:iam::111111111111:role/TipWebIdentityRole"
//! application_arn = "arn:aws:sso::222222222222:application/ssoins-…/apl-…"
//! identity_bearer_role_arn = "arn:aws:iam::111111111111:role/TipIdentityBearerRole"
//! account_id = "111111111111"
//! ```

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];
pub const DEFAULT_PORT: u16 = 8090;
pub const DEFAULT_REGION: &str = "us-east-1";
/// Cached credentials and tokens are renewed when less than this is left of them.
pub const DEFAULT_REFRESH_MARGIN: i64 = 300;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The identity provider's issuer URL (OpenID discovery starts there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// tip's client id at the identity provider (a public, native client).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The loopback port the sign-in returns to (default 8090; 0 picks a free one, which
    /// identity providers that follow RFC 8252 accept for native clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loopback_port: Option<u16>,
    /// Where the AWS APIs are: Tessera's endpoint; AWS's own endpoints when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The role assumed with the identity provider's ID token (AssumeRoleWithWebIdentity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_identity_role_arn: Option<String>,
    /// The Identity Center customer managed application the token is exchanged with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_arn: Option<String>,
    /// The role whose sessions carry the user's identity context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_bearer_role_arn: Option<String>,
    /// The account whose S3 Access Grants instance `tip s3ag` asks by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// How long the identity-enhanced session lasts (900–43,200 s; the role's default when
    /// absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_duration_seconds: Option<i32>,
    /// Renew tokens and credentials when less than this many seconds are left (default 300).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_margin_seconds: Option<i64>,
}

/// A profile name: letters, digits, `-`, `_` and `.`, at most 64 (it names a cache directory).
pub fn check_profile_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !ok {
        bail!(
            "{name:?} is not a profile name: use up to 64 letters, digits, '-', '_' or '.', not starting with '.'"
        );
    }
    Ok(())
}

/// Is `url` an acceptable identity provider or endpoint URL? `https://`, or `http://` to a
/// loopback host (a provider or Tessera on this machine).
pub fn check_url(what: &str, url: &str) -> Result<()> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow!("{what} {url:?} is not a URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        bail!("{what} {url:?} must name a host (and no user name)");
    }
    if url.contains('#') || url.contains('?') {
        bail!("{what} {url:?} may not have a query or fragment");
    }
    match scheme {
        "https" => Ok(()),
        "http" if tessera_oidc::is_loopback_host(host_of(authority)) => Ok(()),
        "http" => {
            bail!("{what} {url:?} must use https:// (http:// only to 127.0.0.1 or localhost)")
        }
        _ => bail!("{what} {url:?} must start with https://"),
    }
}

fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

fn check_arn(what: &str, arn: &str, service: &str, resource: &str) -> Result<()> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == service
        && parts[5].starts_with(resource);
    if !ok {
        bail!("{what} {arn:?} is not an ARN of the form arn:aws:{service}:…:{resource}…");
    }
    Ok(())
}

pub fn check_account(id: &str) -> Result<()> {
    if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("{id:?} is not an AWS account id (12 digits)");
    }
    Ok(())
}

impl Profile {
    /// Check every value that is set.
    pub fn validate(&self) -> Result<()> {
        if let Some(u) = &self.issuer {
            check_url("the issuer", u)?;
        }
        if let Some(c) = &self.client_id
            && (c.is_empty() || c.len() > 256 || c.chars().any(char::is_control))
        {
            bail!("the client id {c:?} is not valid");
        }
        if let Some(s) = &self.scopes {
            if !s.iter().any(|x| x == "openid") {
                bail!("the scopes must include openid");
            }
            if s.iter().any(|x| x.is_empty() || x.contains(' ')) {
                bail!("each scope is one word");
            }
        }
        if let Some(u) = &self.endpoint_url {
            check_url("the endpoint URL", u)?;
        }
        if let Some(r) = &self.region
            && (r.is_empty() || !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            bail!("{r:?} is not a region name");
        }
        if let Some(a) = &self.web_identity_role_arn {
            check_arn("the web-identity role", a, "iam", "role/")?;
        }
        if let Some(a) = &self.identity_bearer_role_arn {
            check_arn("the identity-bearer role", a, "iam", "role/")?;
        }
        if let Some(a) = &self.application_arn {
            check_arn("the application", a, "sso", "application/")?;
        }
        if let Some(a) = &self.account_id {
            check_account(a)?;
        }
        if let Some(d) = self.session_duration_seconds
            && !(900..=43_200).contains(&d)
        {
            bail!("the session duration {d} s is outside 900 to 43,200 seconds");
        }
        if let Some(m) = self.refresh_margin_seconds
            && !(0..=43_200).contains(&m)
        {
            bail!("the refresh margin {m} s is outside 0 to 43,200 seconds");
        }
        Ok(())
    }

    pub fn scopes(&self) -> Vec<String> {
        self.scopes
            .clone()
            .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect())
    }

    pub fn port(&self) -> u16 {
        self.loopback_port.unwrap_or(DEFAULT_PORT)
    }

    pub fn region(&self) -> String {
        self.region.clone().unwrap_or_else(|| DEFAULT_REGION.into())
    }

    pub fn margin(&self) -> i64 {
        self.refresh_margin_seconds
            .unwrap_or(DEFAULT_REFRESH_MARGIN)
    }

    /// A value that must be set, with the command that sets it.
    pub fn need<'a>(
        &'a self,
        field: &'a Option<String>,
        flag: &str,
        profile: &str,
    ) -> Result<&'a str> {
        field.as_deref().ok_or_else(|| {
            anyhow!(
                "profile {profile:?} has no {}: run `tip --profile {profile} configure idp --{flag} …`",
                flag.replace('-', " ")
            )
        })
    }

    /// Fill in what `other` sets.
    pub fn merge(&mut self, other: Profile) {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        take!(
            issuer,
            client_id,
            scopes,
            loopback_port,
            endpoint_url,
            region,
            web_identity_role_arn,
            application_arn,
            identity_bearer_role_arn,
            account_id,
            session_duration_seconds,
            refresh_margin_seconds
        );
    }
}

impl ConfigFile {
    /// Read the config file; a missing file is an empty config. A file that cannot be parsed
    /// is an error naming the file and the place.
    pub fn load(path: &Path) -> Result<ConfigFile> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let c: ConfigFile = toml::from_str(&text).map_err(|e| {
            anyhow!(
                "{} is not a valid tip config: {}",
                path.display(),
                e.to_string().trim_end()
            )
        })?;
        for (name, p) in &c.profiles {
            check_profile_name(name).with_context(|| format!("in {}", path.display()))?;
            p.validate()
                .with_context(|| format!("profile {name:?} in {}", path.display()))?;
        }
        Ok(c)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string_pretty(self).context("cannot write the config")?;
        let dir = path
            .parent()
            .ok_or_else(|| anyhow!("{} has no directory", path.display()))?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let body =
            format!("# tip's profiles: written by `tip configure idp`, safe to edit.\n{text}");
        crate::files::write_private(path, body.as_bytes())
    }

    /// The named profile, or an error that says how to make it.
    pub fn profile(&self, name: &str) -> Result<&Profile> {
        self.profiles.get(name).ok_or_else(|| {
            anyhow!(
                "there is no tip profile {name:?}: run `tip --profile {name} configure idp` first"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip_and_bad_values_are_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("tip").join("config.toml");
        let mut c = ConfigFile::default();
        c.profiles.insert(
            "dev".into(),
            Profile {
                issuer: Some("http://127.0.0.1:9000".into()),
                client_id: Some("example-cli".into()),
                account_id: Some("111111111111".into()),
                ..Profile::default()
            },
        );
        c.save(&p).unwrap();
        let again = ConfigFile::load(&p).unwrap();
        assert_eq!(again.profiles["dev"], c.profiles["dev"]);

        std::fs::write(&p, "[profiles.dev]\nissuer = \n").unwrap();
        let e = ConfigFile::load(&p).unwrap_err().to_string();
        assert!(e.contains("is not a valid tip config"), "{e}");
        std::fs::write(&p, "[profiles.dev]\nisuer = \"x\"\n").unwrap();
        assert!(ConfigFile::load(&p).is_err());
        std::fs::write(&p, "[profiles.dev]\nissuer = \"http://idp.example.com\"\n").unwrap();
        let e = format!("{:#}", ConfigFile::load(&p).unwrap_err());
        assert!(e.contains("https://"), "{e}");
    }

    #[test]
    fn urls_names_and_arns() {
        assert!(check_url("u", "https://login.example.com/oauth2/default").is_ok());
        assert!(check_url("u", "http://127.0.0.1:9000").is_ok());
        assert!(check_url("u", "http://localhost:9000/x").is_ok());
        assert!(check_url("u", "http://[::1]:9000").is_ok());
        assert!(check_url("u", "http://login.example.com").is_err());
        assert!(check_url("u", "https://user@login.example.com").is_err());
        assert!(check_url("u", "ftp://x").is_err());
        assert!(check_profile_name("default").is_ok());
        assert!(check_profile_name("../x").is_err());
        assert!(check_profile_name(".x").is_err());
        assert!(check_arn("r", "arn:aws:iam::111111111111:role/R", "iam", "role/").is_ok());
        assert!(check_arn("r", "arn:aws:iam::111111111111:user/R", "iam", "role/").is_err());
    }
}
