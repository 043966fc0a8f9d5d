//! What a request for data asks for: an S3 target, a permission and a privilege, and which S3
//! operations need which permission.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a target, permission or privilege could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// An S3 location as S3 Access Grants names it: `s3://bucket/key` (one key) or
/// `s3://bucket/prefix*` (every key that starts with `prefix`; `s3://bucket/*` is the whole
/// bucket).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct S3Target {
    pub bucket: String,
    /// The key, or the prefix when `wildcard`.
    pub key: String,
    pub wildcard: bool,
}

/// S3's bucket naming rules, as far as a client needs them: 3–63 characters of lower-case
/// letters, digits, dots and hyphens, starting and ending with a letter or digit.
fn bucket_name_ok(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.as_bytes()[0].is_ascii_alphanumeric()
        && b.as_bytes()[b.len() - 1].is_ascii_alphanumeric()
}

impl S3Target {
    /// One object.
    pub fn object(bucket: &str, key: &str) -> S3Target {
        S3Target {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            wildcard: false,
        }
    }

    /// Every key under `prefix` (`""`: the whole bucket).
    pub fn prefix(bucket: &str, prefix: &str) -> S3Target {
        S3Target {
            bucket: bucket.to_owned(),
            key: prefix.to_owned(),
            wildcard: true,
        }
    }

    /// Read `s3://bucket/key` or `s3://bucket/prefix*`. The wildcard may only end the target;
    /// `s3://bucket` alone names no key (write `s3://bucket/*` for the whole bucket).
    pub fn parse(s: &str) -> Result<S3Target, ParseError> {
        let bad = |m: &str| ParseError(format!("{s:?} is not an S3 target: {m}"));
        if s.len() > 2000 {
            return Err(bad("it is longer than 2,000 characters"));
        }
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| bad("it must start with s3://"))?;
        let (body, wildcard) = match rest.strip_suffix('*') {
            Some(b) => (b, true),
            None => (rest, false),
        };
        if body.contains('*') {
            return Err(bad("the wildcard * may only be its last character"));
        }
        let (bucket, key) = body.split_once('/').ok_or_else(|| {
            bad("name a key or a prefix after the bucket (s3://bucket/* is the whole bucket)")
        })?;
        if !bucket_name_ok(bucket) {
            return Err(bad(&format!("{bucket:?} is not a valid bucket name")));
        }
        if key.is_empty() && !wildcard {
            return Err(bad(
                "name a key or a prefix after the bucket (s3://bucket/* is the whole bucket)",
            ));
        }
        if key.chars().any(char::is_control) {
            return Err(bad("keys may not contain control characters"));
        }
        Ok(S3Target {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            wildcard,
        })
    }

    /// Does a grant on `self` cover every key `other` names? A wildcard covers the keys and
    /// prefixes that start with its prefix; an exact target covers only itself. So a broad
    /// request is never covered by a narrower grant.
    pub fn covers(&self, other: &S3Target) -> bool {
        self.bucket == other.bucket
            && if self.wildcard {
                other.key.starts_with(&self.key)
            } else {
                !other.wildcard && other.key == self.key
            }
    }
}

impl fmt::Display for S3Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "s3://{}/{}{}",
            self.bucket,
            self.key,
            if self.wildcard { "*" } else { "" }
        )
    }
}

/// The longest common start of `keys` (character-wise), as a prefix target: the narrowest
/// single target that covers them all. One key gives that key itself.
pub fn common_target<'a>(bucket: &str, keys: impl IntoIterator<Item = &'a str>) -> S3Target {
    let mut iter = keys.into_iter();
    let Some(first) = iter.next() else {
        return S3Target::prefix(bucket, "");
    };
    let mut common = first;
    let mut several = false;
    for k in iter {
        several = true;
        let n = common
            .char_indices()
            .zip(k.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map(|((i, c), _)| i + c.len_utf8())
            .unwrap_or(0);
        common = &common[..n];
    }
    if several {
        S3Target::prefix(bucket, common)
    } else {
        S3Target::object(bucket, first)
    }
}

/// An Access Grants permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Permission {
    Read,
    Write,
    #[serde(rename = "READWRITE")]
    ReadWrite,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadWrite => "READWRITE",
        }
    }

    /// Does credentials for `self` serve a request that needs `needed`? READWRITE serves both.
    pub fn includes(self, needed: Permission) -> bool {
        self == needed || self == Permission::ReadWrite
    }

    pub fn parse(s: &str) -> Result<Permission, ParseError> {
        match s.to_ascii_uppercase().as_str() {
            "READ" => Ok(Permission::Read),
            "WRITE" => Ok(Permission::Write),
            "READWRITE" => Ok(Permission::ReadWrite),
            _ => Err(ParseError(format!(
                "{s:?} is not a permission: READ, WRITE or READWRITE"
            ))),
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// GetDataAccess's privilege: `Default` vends credentials for the whole matched grant,
/// `Minimal` for the requested target only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Privilege {
    #[default]
    Default,
    Minimal,
}

impl Privilege {
    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::Default => "Default",
            Privilege::Minimal => "Minimal",
        }
    }

    pub fn parse(s: &str) -> Result<Privilege, ParseError> {
        match s.to_ascii_lowercase().as_str() {
            "default" => Ok(Privilege::Default),
            "minimal" => Ok(Privilege::Minimal),
            _ => Err(ParseError(format!(
                "{s:?} is not a privilege: Default or Minimal"
            ))),
        }
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The permission an S3 operation needs from a grant, or `None` when S3 Access Grants does
/// not serve the operation (bucket-level calls such as ListBuckets, CreateBucket, HeadBucket):
/// those are signed with the client's own credentials.
///
/// As AWS's Access Grants plugins map them: reads (GetObject, HeadObject, GetObjectAcl,
/// GetObjectAttributes, the listings) need READ; writes (PutObject, PutObjectAcl, the deletes,
/// the multipart upload calls) WRITE; CopyObject (read the source, write the copy) READWRITE.
/// ListParts and ListMultipartUploads need WRITE here, not READ as in the plugins: a grant's
/// documented S3 actions put `s3:ListMultipartUploadParts` and `s3:ListBucketMultipartUploads`
/// under WRITE, so READ credentials could not perform them.
pub fn permission_for_operation(operation: &str) -> Option<Permission> {
    Some(match operation {
        "GetObject"
        | "HeadObject"
        | "GetObjectAcl"
        | "GetObjectAttributes"
        | "ListObjects"
        | "ListObjectsV2"
        | "ListObjectVersions" => Permission::Read,
        "PutObject"
        | "PutObjectAcl"
        | "DeleteObject"
        | "DeleteObjects"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "CompleteMultipartUpload"
        | "AbortMultipartUpload"
        | "ListParts"
        | "ListMultipartUploads" => Permission::Write,
        "CopyObject" => Permission::ReadWrite,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn targets_parse_and_print() {
        let t = S3Target::parse("s3://example-bucket/projects/red/*").unwrap();
        assert_eq!(t, S3Target::prefix("example-bucket", "projects/red/"));
        assert_eq!(t.to_string(), "s3://example-bucket/projects/red/*");
        let o = S3Target::parse("s3://example-bucket/projects/red/a.csv").unwrap();
        assert!(!o.wildcard);
        assert_eq!(
            S3Target::parse("s3://example-bucket/*").unwrap().key,
            String::new()
        );
        for bad in [
            "example-bucket/x",
            "s3://example-bucket",
            "s3://example-bucket/",
            "s3://Example/x",
            "s3://ab/x",
            "s3://example-bucket/a*b",
            "s3://example-bucket/a\nb",
            "s3://-bucket/x",
        ] {
            assert!(S3Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_grant_covers_what_lies_under_it_and_nothing_broader() {
        let red = S3Target::prefix("b", "projects/red/");
        assert!(red.covers(&S3Target::object("b", "projects/red/a.csv")));
        assert!(red.covers(&S3Target::prefix("b", "projects/red/2026/")));
        assert!(red.covers(&S3Target::prefix("b", "projects/red/")));
        assert!(!red.covers(&S3Target::prefix("b", "projects/")));
        assert!(!red.covers(&S3Target::prefix("b", "projects/re")));
        assert!(!red.covers(&S3Target::object("b", "projects/blue/a.csv")));
        assert!(!red.covers(&S3Target::object("other", "projects/red/a.csv")));
        let one = S3Target::object("b", "projects/red/a.csv");
        assert!(one.covers(&one));
        assert!(!one.covers(&S3Target::prefix("b", "projects/red/a.csv")));
        assert!(!one.covers(&S3Target::object("b", "projects/red/a.csv2")));
    }

    #[test]
    fn common_targets() {
        assert_eq!(
            common_target("b", ["projects/red/a.csv", "projects/red/b.csv"]),
            S3Target::prefix("b", "projects/red/")
        );
        assert_eq!(
            common_target("b", ["x/a", "y/b"]),
            S3Target::prefix("b", "")
        );
        assert_eq!(common_target("b", ["k"]), S3Target::object("b", "k"));
        assert_eq!(common_target("b", []), S3Target::prefix("b", ""));
        assert_eq!(
            common_target("b", ["é/ü1", "é/ü2"]),
            S3Target::prefix("b", "é/ü")
        );
    }

    #[test]
    fn operations_map_to_permissions() {
        assert_eq!(
            permission_for_operation("GetObject"),
            Some(Permission::Read)
        );
        assert_eq!(
            permission_for_operation("ListObjectsV2"),
            Some(Permission::Read)
        );
        assert_eq!(
            permission_for_operation("PutObject"),
            Some(Permission::Write)
        );
        assert_eq!(
            permission_for_operation("CopyObject"),
            Some(Permission::ReadWrite)
        );
        assert_eq!(permission_for_operation("ListBuckets"), None);
        assert_eq!(permission_for_operation("HeadBucket"), None);
        assert!(Permission::ReadWrite.includes(Permission::Read));
        assert!(Permission::ReadWrite.includes(Permission::Write));
        assert!(!Permission::Read.includes(Permission::Write));
        assert!(!Permission::Read.includes(Permission::ReadWrite));
        assert_eq!(
            Permission::parse("readwrite").unwrap(),
            Permission::ReadWrite
        );
        assert!(Permission::parse("ALL").is_err());
        assert_eq!(Privilege::parse("MINIMAL").unwrap(), Privilege::Minimal);
    }

    proptest! {
        #[test]
        fn parse_round_trips(bucket in "[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", key in "[a-zA-Z0-9/._ -]{0,40}", wild: bool) {
            prop_assume!(wild || !key.is_empty());
            let t = S3Target { bucket, key, wildcard: wild };
            prop_assert_eq!(S3Target::parse(&t.to_string()).unwrap(), t);
        }

        #[test]
        fn the_common_target_covers_every_key(keys in proptest::collection::vec("[ab/]{0,8}", 1..6)) {
            let t = common_target("b", keys.iter().map(String::as_str));
            for k in &keys {
                prop_assert!(t.covers(&S3Target::object("b", k)));
            }
        }

        #[test]
        fn coverage_is_transitive(a in "[ab/]{0,4}", b in "[ab/]{0,4}", c in "[ab/]{0,6}") {
            let (ta, tb, tc) = (S3Target::prefix("x", &a), S3Target::prefix("x", &b), S3Target::object("x", &c));
            if ta.covers(&tb) && tb.covers(&tc) {
                prop_assert!(ta.covers(&tc));
            }
            // A grant never covers a request broader than itself.
            if ta.covers(&tb) {
                prop_assert!(tb.key.len() >= ta.key.len());
            }
        }
    }
}
