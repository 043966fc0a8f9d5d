//! IAM name and path rules, and S3's bucket naming rule ([`bucket_name_ok`]). Each check returns the AWS-style constraint message that the IAM
//! service puts into a `ValidationError`.

fn name_chars_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

fn check_name(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() || value.chars().count() > max {
        return Err(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max} and greater than or equal to 1"
        ));
    }
    if !name_chars_ok(value) {
        return Err(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        ));
    }
    Ok(())
}

/// Role names: 1–64 characters of `[\w+=,.@-]`.
pub fn role_name(field: &str, v: &str) -> Result<(), String> {
    check_name(field, v, 64)
}

/// User names: 1–64 characters of `[\w+=,.@-]`.
pub fn user_name(field: &str, v: &str) -> Result<(), String> {
    check_name(field, v, 64)
}

/// Policy names (inline and managed): 1–128 characters of `[\w+=,.@-]`.
pub fn policy_name(field: &str, v: &str) -> Result<(), String> {
    check_name(field, v, 128)
}

/// Paths: `/` or `/segments/`, 1–512 characters of printable ASCII.
pub fn path(field: &str, v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.len() <= 512
        && v.starts_with('/')
        && v.ends_with('/')
        && v.bytes().all(|b| (0x21..=0x7e).contains(&b))
        && !v.contains("//");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "1 validation error detected: Value '{v}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)"
        ))
    }
}

/// Role or policy descriptions: at most 1000 characters, no control characters except tab/newline.
pub fn description(field: &str, v: &str) -> Result<(), String> {
    if v.chars().count() > 1000 {
        return Err(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to 1000"
        ));
    }
    if v.chars()
        .any(|c| c.is_control() && c != '\t' && c != '\n' && c != '\r')
    {
        return Err(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*"
        ));
    }
    Ok(())
}

/// Does `s` consist only of characters AWS allows in tag keys and values (IAM tags and STS
/// session tags): `[\p{L}\p{Z}\p{N}_.:/=+\-@]`? Letters, separators (space, no-break
/// space, …) and numbers in Unicode's sense; control characters such as tab, newline and
/// carriage return are not separators and are refused.
pub fn tag_chars_ok(s: &str) -> bool {
    static TAG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$").expect("valid pattern")
    });
    TAG.is_match(s)
}

/// Tag keys (1–128) and values (0–256) of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
pub fn tag(key: &str, value: &str) -> Result<(), String> {
    if key.is_empty() || key.chars().count() > 128 || !tag_chars_ok(key) {
        return Err(format!(
            "1 validation error detected: Value '{key}' at 'tags.key' failed to satisfy constraint: Member must have length between 1 and 128 and satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]+"
        ));
    }
    if value.chars().count() > 256 || !tag_chars_ok(value) {
        return Err("1 validation error detected: Value at 'tags.value' failed to satisfy constraint: Member must have length less than or equal to 256 and satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*".to_string());
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err("Tag keys starting with 'aws:' are reserved for internal use".into());
    }
    Ok(())
}

fn is_loopback_host(host_port: &str) -> bool {
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The name IAM gives an OIDC provider: its issuer URL without the scheme, kept as written
/// otherwise (`https://host[:port]/path` → `host[:port]/path`; a trailing slash stays, as in
/// `sts.windows.net/TENANT/`, so the provider's ARN and condition-key prefix match the
/// issuer). `http://` is accepted only for loopback hosts and only when
/// `allow_http_loopback` (dev mode, tests). `None` when the URL is not an acceptable issuer
/// (no host, a query or fragment, an empty path segment, white space or control
/// characters).
pub fn oidc_issuer_host_path(url: &str, allow_http_loopback: bool) -> Option<String> {
    let rest = match url.strip_prefix("https://") {
        Some(r) => r,
        None => {
            let r = url.strip_prefix("http://")?;
            if !allow_http_loopback || !is_loopback_host(r.split('/').next().unwrap_or("")) {
                return None;
            }
            r
        }
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty()
        || rest.contains(['?', '#', ' ', '\\'])
        || rest.contains("//")
        || rest.chars().any(char::is_control)
    {
        return None;
    }
    Some(rest.to_owned())
}

/// Whether `name` is a bucket name S3 accepts for general purpose buckets: 3–63 characters
/// of lower-case letters, digits, dots and hyphens, beginning and ending with a letter or
/// digit, no two adjacent dots, not an IP address, none of the reserved prefixes and suffixes.
pub fn bucket_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    if !(3..=63).contains(&b.len()) {
        return false;
    }
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !edge(b[0]) || !edge(b[b.len() - 1]) {
        return false;
    }
    if !b
        .iter()
        .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
    {
        return false;
    }
    if name.contains("..") || name.parse::<std::net::Ipv4Addr>().is_ok() {
        return false;
    }
    const PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    !PREFIXES.iter().any(|p| name.starts_with(p)) && !SUFFIXES.iter().any(|s| name.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names() {
        assert!(role_name("roleName", "ApplicationRole").is_ok());
        assert!(role_name("roleName", "a+=,.@_-b").is_ok());
        assert!(role_name("roleName", "").unwrap_err().contains("length"));
        assert!(role_name("roleName", &"a".repeat(65)).is_err());
        assert!(
            role_name("roleName", "has space")
                .unwrap_err()
                .contains("pattern")
        );
        assert!(role_name("roleName", "slash/no").is_err());
    }

    #[test]
    fn paths() {
        assert!(path("path", "/").is_ok());
        assert!(path("path", "/division_abc/subdivision_xyz/").is_ok());
        assert!(path("path", "division").is_err());
        assert!(path("path", "/a").is_err());
        assert!(path("path", "/a//b/").is_err());
        assert!(path("path", "/sp ace/").is_err());
    }

    #[test]
    fn tags() {
        assert!(tag("team", "data").is_ok());
        assert!(tag("", "x").is_err());
        assert!(tag("aws:foo", "x").is_err());
        assert!(tag("k", &"v".repeat(257)).is_err());
        // Letters, numbers and separators of any script; no control characters.
        assert!(tag("équipe données", "Ωmega 42 \u{a0}x").is_ok());
        assert!(tag_chars_ok("a_b.c:d/e=f+g-h@i \u{3000}\u{2028}"));
        for bad in ["a\tb", "a\nb", "a\rb", "a\u{0}b", "a\u{1b}b", "a*b", "a#b"] {
            assert!(!tag_chars_ok(bad), "{bad:?}");
            assert!(tag(bad, "v").is_err(), "{bad:?}");
            assert!(tag("k", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn oidc_issuers() {
        let f = oidc_issuer_host_path;
        assert_eq!(
            f("https://idp.example.com/t/", false).as_deref(),
            Some("idp.example.com/t/")
        );
        assert_eq!(
            f("https://dev-12345678.okta.com/oauth2/default", false).as_deref(),
            Some("dev-12345678.okta.com/oauth2/default")
        );
        assert_eq!(
            f("https://sts.windows.net/8f9e2b5c/", false).as_deref(),
            Some("sts.windows.net/8f9e2b5c/")
        );
        assert_eq!(f("https://idp.example.com//", false), None);
        assert_eq!(f("https://idp.example.com/a//b", false), None);
        assert_eq!(
            f("https://127.0.0.1:8443", false).as_deref(),
            Some("127.0.0.1:8443")
        );
        assert_eq!(
            f("http://127.0.0.1:9000", true).as_deref(),
            Some("127.0.0.1:9000")
        );
        assert_eq!(
            f("http://localhost:9000", true).as_deref(),
            Some("localhost:9000")
        );
        assert_eq!(f("http://[::1]:9000", true).as_deref(), Some("[::1]:9000"));
        assert_eq!(f("http://127.0.0.1:9000", false), None);
        assert_eq!(
            f("http://idp.example.com", true),
            None,
            "http only on loopback"
        );
        assert_eq!(f("ftp://x", true), None);
        assert_eq!(f("https://", false), None);
        assert_eq!(f("https:///path", false), None);
        assert_eq!(f("https://a.b/x?y", false), None);
    }
}
