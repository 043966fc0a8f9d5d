//! Input rules: S3 scopes (bucket names as S3 allows them, keys that cannot traverse), tags,
//! identifiers and ARNs, with the constraints of the s3control model. botocore checks only
//! required members and minimum lengths, so every other rule is enforced here.

use crate::error::AgError;

/// Longest S3 object key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest scope, prefix or target (model: 1–2000).
pub const MAX_SCOPE_CHARS: usize = 2000;

pub use tessera_core::names::bucket_name_ok;

/// The key part of a scope, prefix or target: no control characters (NUL included), no `.` or
/// `..` segment, no empty segment (`//`), no backslash, no percent-encoded separator or dot, at
/// most 1024 bytes. `*` is checked by the callers (it may only end a scope).
pub fn key_part_ok(key: &str) -> Result<(), String> {
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "The key part of the scope is {} bytes long; S3 keys are at most {MAX_KEY_BYTES} bytes",
            key.len()
        ));
    }
    if key.chars().any(|c| c.is_control()) {
        return Err("The scope contains a control character".into());
    }
    if key.contains('\\') {
        return Err("The scope contains a backslash".into());
    }
    let lower = key.to_ascii_lowercase();
    for enc in ["%2f", "%5c", "%2e", "%00"] {
        if lower.contains(enc) {
            return Err("The scope contains a percent-encoded separator".into());
        }
    }
    let segs: Vec<&str> = key.split('/').collect();
    for (i, s) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        if *s == "." || *s == ".." || (last && (*s == ".*" || *s == "..*")) {
            return Err("The scope may not contain '.' or '..' path segments".into());
        }
        // An empty segment is `//` (or a leading `/`); a trailing `/` is fine.
        if s.is_empty() && !last {
            return Err("The scope may not contain an empty path segment ('//')".into());
        }
    }
    Ok(())
}

/// A parsed `s3://bucket/key…` target or scope: the bucket, the key part (after the first
/// `/`, may be empty) and whether it ended in the wildcard `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Path {
    pub bucket: String,
    pub key: String,
    pub wildcard: bool,
}

impl S3Path {
    /// The scope key of the index (`bucket/key`, no `s3://`, no `*`).
    pub fn index_key(&self) -> String {
        format!("{}/{}", self.bucket, self.key)
    }
}

/// Parse `s3://bucket/key[*]` where only a final `*` is a wildcard. `what` names the input in
/// messages. A bare `s3://bucket` is refused (name a prefix, or `s3://bucket/*`).
pub fn s3_path(what: &str, s: &str) -> Result<S3Path, String> {
    if s.is_empty() || s.chars().count() > MAX_SCOPE_CHARS {
        return Err(format!(
            "{what} must be between 1 and {MAX_SCOPE_CHARS} characters long"
        ));
    }
    let rest = s
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{what} must be an S3 path of the form s3://bucket/prefix"))?;
    let (body, wildcard) = match rest.strip_suffix('*') {
        Some(b) => (b, true),
        None => (rest, false),
    };
    if body.contains('*') {
        return Err(format!(
            "{what} may contain the wildcard * only as its last character"
        ));
    }
    let (bucket, key) = body
        .split_once('/')
        .ok_or_else(|| format!("{what} must be of the form s3://bucket/prefix"))?;
    if !bucket_name_ok(bucket) {
        return Err(format!("{what} names an invalid bucket: {bucket:?}"));
    }
    if key.is_empty() && !wildcard {
        return Err(format!(
            "{what} must name an object key or a prefix (s3://{bucket}/*)"
        ));
    }
    key_part_ok(key).map_err(|m| format!("{what}: {m}"))?;
    Ok(S3Path {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        wildcard,
    })
}

/// A location scope: `s3://` (every bucket; the default location), `s3://bucket`,
/// `s3://bucket/` or `s3://bucket/prefix`. No wildcards. Returns the bucket (`None` for
/// `s3://`).
pub fn location_scope(s: &str) -> Result<Option<String>, AgError> {
    let bad = |m: String| AgError::InvalidLocation(m);
    if s.is_empty() || s.chars().count() > MAX_SCOPE_CHARS {
        return Err(bad(format!(
            "LocationScope must be between 1 and {MAX_SCOPE_CHARS} characters long"
        )));
    }
    let rest = s.strip_prefix("s3://").ok_or_else(|| {
        bad("LocationScope must be s3:// or an S3 path of the form s3://bucket/prefix".into())
    })?;
    if rest.is_empty() {
        return Ok(None);
    }
    if rest.contains('*') {
        return Err(bad("LocationScope may not contain wildcards".into()));
    }
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if !bucket_name_ok(bucket) {
        return Err(bad(format!(
            "LocationScope names an invalid bucket: {bucket:?}"
        )));
    }
    key_part_ok(key).map_err(|m| bad(format!("LocationScope: {m}")))?;
    Ok(Some(bucket.to_owned()))
}

/// The grant scope of a grant at `location` with `sub_prefix` (plain concatenation, joined
/// by one `/` below a bucket or prefix location). Without a sub-prefix the grant covers the
/// whole location. Object grants need a sub-prefix without `*`.
pub fn grant_scope(
    location: &str,
    sub_prefix: Option<&str>,
    object: bool,
) -> Result<String, AgError> {
    let bad = |m: String| AgError::InvalidGrant(m);
    let scope = match sub_prefix {
        None if object => {
            return Err(bad(
                "An object grant (S3PrefixType Object) needs an S3SubPrefix naming the object"
                    .into(),
            ));
        }
        None => {
            if location == "s3://" {
                "s3://*".to_owned()
            } else if location.ends_with('/') || location[5..].contains('/') {
                format!("{location}*")
            } else {
                format!("{location}/*")
            }
        }
        Some(sub) => {
            if sub.is_empty() || sub.chars().count() > MAX_SCOPE_CHARS {
                return Err(bad(format!(
                    "S3SubPrefix must be between 1 and {MAX_SCOPE_CHARS} characters long"
                )));
            }
            if location == "s3://" {
                format!("s3://{sub}")
            } else if location.ends_with('/') || sub.starts_with('/') {
                let sub = if location.ends_with('/') {
                    sub.strip_prefix('/').unwrap_or(sub)
                } else {
                    sub
                };
                format!("{location}{sub}")
            } else {
                format!("{location}/{sub}")
            }
        }
    };
    if object && scope.ends_with('*') {
        return Err(bad(
            "An object grant (S3PrefixType Object) cannot end with the wildcard *".into(),
        ));
    }
    if scope == "s3://*" {
        return Ok(scope);
    }
    // Whatever the sub-prefix says, the grant must stay inside its location.
    s3_path("The grant scope", &scope).map_err(bad)?;
    let stem = scope.trim_end_matches('*');
    if location != "s3://" && !stem.starts_with(location.trim_end_matches('/')) {
        return Err(bad(format!(
            "The grant scope {scope} is not within its location {location}"
        )));
    }
    Ok(scope)
}

/// Tags (model: key 1–128, value 0–256, `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`, at most 50, no `aws:`
/// prefix, no key twice).
pub fn tags(tags: &[(String, String)]) -> Result<(), AgError> {
    if tags.len() > 50 {
        return Err(AgError::TooManyTags);
    }
    let ok_char = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    let mut seen = std::collections::HashSet::new();
    for (k, v) in tags {
        let kl = k.chars().count();
        if !(1..=128).contains(&kl) || !k.chars().all(ok_char) {
            return Err(AgError::InvalidTag(format!(
                "The tag key {k:?} is not valid: 1 to 128 letters, digits, spaces and _.:/=+-@"
            )));
        }
        if v.chars().count() > 256 || !v.chars().all(ok_char) {
            return Err(AgError::InvalidTag(format!(
                "The value of tag {k:?} is not valid: at most 256 letters, digits, spaces and _.:/=+-@"
            )));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(AgError::InvalidTag(format!(
                "The tag key {k:?} uses the reserved prefix aws:"
            )));
        }
        if !seen.insert(k.as_str()) {
            return Err(AgError::InvalidTag(format!(
                "The tag key {k:?} is given twice"
            )));
        }
    }
    Ok(())
}

/// An identifier in a path (`[a-zA-Z0-9\-]+`, 1–64).
pub fn id_ok(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn partition_ok(p: &str) -> bool {
    !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

/// `arn:<partition>:iam::<12 digits>:<kind>/<path><name>` → (account, path, name).
fn iam_arn(arn: &str, kind: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if arn.len() > 2048 || parts.len() != 6 || parts[0] != "arn" || !partition_ok(parts[1]) {
        return None;
    }
    if parts[2] != "iam"
        || !parts[3].is_empty()
        || tessera_core::AccountId::parse(parts[4]).is_err()
    {
        return None;
    }
    let rest = parts[5].strip_prefix(kind)?.strip_prefix('/')?;
    let (path, name) = match rest.rfind('/') {
        Some(i) => (format!("/{}", &rest[..=i]), &rest[i + 1..]),
        None => ("/".to_owned(), rest),
    };
    (!name.is_empty()).then(|| (parts[4].to_owned(), path, name.to_owned()))
}

/// `arn:<partition>:iam::<12 digits>:role/<path><name>` → (account, path, name).
pub fn role_arn(arn: &str) -> Option<(String, String, String)> {
    iam_arn(arn, "role")
}

/// An IAM grantee: a user or role ARN → (account, kind `user`/`role`, path, name).
pub fn iam_principal_arn(arn: &str) -> Option<(String, &'static str, String, String)> {
    ["role", "user"]
        .into_iter()
        .find_map(|k| iam_arn(arn, k).map(|(a, p, n)| (a, k, p, n)))
}

/// `arn:<partition>:sso:::instance/…` or `arn:<partition>:sso::<12 digits>:instance/…`.
pub fn identity_center_arn_ok(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    (10..=1224).contains(&arn.len())
        && parts.len() == 6
        && parts[0] == "arn"
        && partition_ok(parts[1])
        && parts[2] == "sso"
        && parts[3].is_empty()
        && (parts[4].is_empty() || tessera_core::AccountId::parse(parts[4]).is_ok())
        && parts[5].starts_with("instance/")
}

/// `arn:<partition>:sso::<12 digits>:application/…`.
pub fn application_arn_ok(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    (10..=1224).contains(&arn.len())
        && parts.len() == 6
        && parts[0] == "arn"
        && partition_ok(parts[1])
        && parts[2] == "sso"
        && parts[3].is_empty()
        && tessera_core::AccountId::parse(parts[4]).is_ok()
        && parts[5].starts_with("application/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        for ok in ["example-bucket", "bucket1.b2", "abc", "a-b-c"] {
            assert!(bucket_name_ok(ok), "{ok}");
        }
        for bad in [
            "ab",
            "Upper",
            "-lead",
            "trail-",
            "a..b",
            "192.168.1.1",
            "xn--x",
            "a_b",
            "b--ol-s3",
            "sthree-x",
            "x.mrap",
            &"a".repeat(64),
        ] {
            assert!(!bucket_name_ok(bad), "{bad}");
        }
    }

    #[test]
    fn paths() {
        let p = s3_path("Target", "s3://example-bucket/projects/red/tomatoes/").unwrap();
        assert_eq!(
            (p.bucket.as_str(), p.key.as_str(), p.wildcard),
            ("example-bucket", "projects/red/tomatoes/", false)
        );
        assert!(s3_path("T", "s3://bucket1/*").unwrap().wildcard);
        for bad in [
            "",
            "example-bucket/x",
            "s3://",
            "s3://bucket1",
            "s3://bucket1/",
            "s3://B1/x",
            "s3://bucket1/a*b",
            "s3://bucket1/*/x",
            "s3://bucket1/a/../b",
            "s3://bucket1/..",
            "s3://bucket1/a//b",
            "s3://bucket1//a",
            "s3://bucket1/a%2Fb",
            "s3://bucket1/a%2e%2e/b",
            "s3://bucket1/a\u{0}b",
            "s3://bucket1/a\\b",
            "s3://bucket1/./a",
            "s3://bucket1/a/..*",
        ] {
            assert!(s3_path("T", bad).is_err(), "{bad:?}");
        }
        let long = format!("s3://bucket1/{}", "k".repeat(1025));
        assert!(s3_path("T", &long).is_err());
        assert!(s3_path("T", &format!("s3://bucket1/{}", "k".repeat(1024))).is_ok());
    }

    #[test]
    fn locations_and_scopes() {
        assert_eq!(location_scope("s3://").unwrap(), None);
        assert_eq!(
            location_scope("s3://bucket1/").unwrap().as_deref(),
            Some("bucket1")
        );
        assert!(location_scope("s3://bucket1/*").is_err());
        assert!(location_scope("s3://bucket1/a/../b").is_err());
        assert!(location_scope("https://bucket1/").is_err());
        assert_eq!(
            grant_scope("s3://", Some("bucket1/bob/*"), false).unwrap(),
            "s3://bucket1/bob/*"
        );
        assert_eq!(grant_scope("s3://", None, false).unwrap(), "s3://*");
        assert_eq!(
            grant_scope("s3://bucket1/", Some("bob/*"), false).unwrap(),
            "s3://bucket1/bob/*"
        );
        assert_eq!(
            grant_scope("s3://bucket1", Some("bob/*"), false).unwrap(),
            "s3://bucket1/bob/*"
        );
        assert_eq!(
            grant_scope("s3://bucket1/", Some("/obj.txt"), true).unwrap(),
            "s3://bucket1/obj.txt"
        );
        assert_eq!(
            grant_scope("s3://bucket1/team", Some("a*"), false).unwrap(),
            "s3://bucket1/team/a*"
        );
        assert_eq!(
            grant_scope("s3://bucket1", None, false).unwrap(),
            "s3://bucket1/*"
        );
        assert_eq!(
            grant_scope("s3://bucket1/team/", None, false).unwrap(),
            "s3://bucket1/team/*"
        );
        assert!(grant_scope("s3://bucket1/", Some("../other/*"), false).is_err());
        assert!(grant_scope("s3://bucket1/", Some("a*b*"), false).is_err());
        assert!(grant_scope("s3://bucket1/", Some("x*"), true).is_err());
        assert!(grant_scope("s3://", Some("Bad/x*"), false).is_err());
        assert!(grant_scope("s3://bucket1/", None, true).is_err());
    }

    #[test]
    fn arns_and_tags() {
        assert_eq!(
            role_arn("arn:aws:iam::111111111111:role/path/r").unwrap(),
            ("111111111111".into(), "/path/".into(), "r".into())
        );
        assert!(role_arn("arn:aws:iam::1111:role/r").is_none());
        assert!(iam_principal_arn("arn:aws:iam::111111111111:user/u").is_some());
        assert!(identity_center_arn_ok(
            "arn:aws:sso:::instance/ssoins-1234567890abcdef"
        ));
        assert!(!identity_center_arn_ok("arn:aws:sso:::application/x"));
        assert!(tags(&[("k".into(), "v".into()), ("k".into(), "w".into())]).is_err());
        assert!(tags(&[("aws:x".into(), "v".into())]).is_err());
        assert!(tags(&[("k!".into(), "v".into())]).is_err());
        assert!(tags(&[("k".into(), "v".into())]).is_ok());
    }
}
