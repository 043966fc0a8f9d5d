//! Which AWS API a request is for, decided from what the request carries (design brief §4).

use http::request::Parts;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// awsJson1.1 with `X-Amz-Target` (sso-admin, identitystore).
    Json { target: String },
    /// `POST /token?aws_iam=t` (sso-oidc CreateTokenWithIAM) and the other sso-oidc paths.
    SsoOidc,
    /// The Identity Center token issuer's discovery and JWKS documents
    /// (`/_identity-center/…`, unsigned).
    TokenIssuer,
    /// s3control: the `/v20180820/` path prefix, whatever the Host.
    S3Control,
    /// SCIM with `Authorization: Bearer`.
    Scim,
    /// awsQuery (STS, IAM): an `Action` parameter at `/`.
    Query,
    /// Everything else is S3.
    S3,
}

fn query_has(raw_query: &str, name: &str) -> bool {
    raw_query
        .split('&')
        .any(|p| p.split('=').next() == Some(name))
}

pub fn classify(parts: &Parts) -> Route {
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    if let Some(t) = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        return Route::Json {
            target: t.to_owned(),
        };
    }
    if path.starts_with("/v20180820/") {
        return Route::S3Control;
    }
    if parts.method == http::Method::POST && path == "/token" && query_has(query, "aws_iam") {
        return Route::SsoOidc;
    }
    if path.starts_with(tessera_identity_center::issuer::ISSUER_PATH) {
        return Route::TokenIssuer;
    }
    let bearer = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    // SCIM: a bearer token, or an unsigned request for `/{identity store id}/scim/v2/…`
    // (answered 401 without a token).
    let mut segs = path.trim_start_matches('/').split('/');
    let tenant = segs.next().unwrap_or("");
    let scim_path = tenant.len() == 12
        && tenant.starts_with("d-")
        && tenant[2..].bytes().all(|b| b.is_ascii_hexdigit())
        && segs.next() == Some("scim")
        && segs.next() == Some("v2");
    let sigv4 = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-"))
        || query_has(query, "X-Amz-Signature");
    if bearer || (scim_path && !sigv4) {
        return Route::Scim;
    }
    if path == "/" {
        let form = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if query_has(query, "Action") || (parts.method == http::Method::POST && form) {
            return Route::Query;
        }
    }
    Route::S3
}

/// The account of an s3control request: header `x-amz-account-id` (12 digits, required).
/// s3control clients also prepend `{AccountId}.` to the endpoint host; when the Host carries
/// such a label it must equal the header.
pub fn s3control_account(parts: &Parts) -> Result<String, tessera_wire::AwsError> {
    let bad = |m: String| tessera_wire::AwsError::new(400, "InvalidRequest", m);
    let header = parts
        .headers
        .get("x-amz-account-id")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad("Missing required header for this request: x-amz-account-id".into()))?;
    if tessera_core::AccountId::parse(header).is_err() {
        return Err(bad(format!(
            "Account id {header:?} in x-amz-account-id is not 12 digits"
        )));
    }
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.host())
        .unwrap_or("");
    if let Some((label, _)) = host.split_once('.')
        && label.len() == 12
        && label.bytes().all(|b| b.is_ascii_digit())
        && label != header
    {
        return Err(bad(format!(
            "The account id {label} in the host name does not match the x-amz-account-id header"
        )));
    }
    Ok(header.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn routes() {
        let form = (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
        assert_eq!(classify(&parts("POST", "/", &[form])), Route::Query);
        assert_eq!(
            classify(&parts(
                "GET",
                "/?Action=GetCallerIdentity&Version=2011-06-15",
                &[]
            )),
            Route::Query
        );
        assert_eq!(
            classify(&parts(
                "POST",
                "/",
                &[("x-amz-target", "AWSIdentityStore.ListUsers")]
            )),
            Route::Json {
                target: "AWSIdentityStore.ListUsers".into()
            }
        );
        assert_eq!(
            classify(&parts("GET", "/v20180820/accessgrantsinstance", &[])),
            Route::S3Control
        );
        assert_eq!(
            classify(&parts("POST", "/token?aws_iam=t", &[])),
            Route::SsoOidc
        );
        assert_eq!(
            classify(&parts(
                "GET",
                "/scim/v2/Users",
                &[("authorization", "Bearer abc")]
            )),
            Route::Scim
        );
        // Buckets may be called anything a bucket name allows, including "token".
        assert_eq!(classify(&parts("GET", "/token", &[])), Route::S3);
        assert_eq!(classify(&parts("PUT", "/bucket/key", &[form])), Route::S3);
        assert_eq!(classify(&parts("GET", "/", &[])), Route::S3);
        assert_eq!(
            classify(&parts(
                "POST",
                "/bucket",
                &[("content-type", "multipart/form-data")]
            )),
            Route::S3
        );
    }

    #[test]
    fn s3control_account_label() {
        let p = |host: &str, acct: Option<&str>| {
            let mut h = vec![("host", host)];
            if let Some(a) = acct {
                h.push(("x-amz-account-id", a));
            }
            s3control_account(&parts("GET", "/v20180820/accessgrantsinstance", &h))
        };
        assert_eq!(
            p("111111111111.localhost:4566", Some("111111111111")).unwrap(),
            "111111111111"
        );
        assert_eq!(
            p("127.0.0.1:4566", Some("111111111111")).unwrap(),
            "111111111111"
        );
        assert_eq!(
            p("s3-control.example.com", Some("111111111111")).unwrap(),
            "111111111111"
        );
        assert_eq!(
            p("222222222222.localhost", Some("111111111111"))
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(p("localhost", None).unwrap_err().code, "InvalidRequest");
        assert!(p("localhost", Some("12")).is_err());
    }
}
