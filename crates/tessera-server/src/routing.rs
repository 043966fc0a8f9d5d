//! Which AWS API a request is for, decided from what the request carries (design brief §4).

use http::request::Parts;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// awsJson1.1 with `X-Amz-Target` (sso-admin, identitystore).
    Json { target: String },
    /// `POST /token?aws_iam=t` (sso-oidc CreateTokenWithIAM) and the other sso-oidc paths.
    SsoOidc,
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
    let bearer = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    if bearer {
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
}
