//! `s3s` as a codec behind our authentication layer.
//!
//! `s3s` can verify SigV4 itself, but it checks neither the session token nor that the
//! security-relevant headers are signed, and with no authentication provider it refuses
//! signed requests. So Tessera's own layer authenticates first (header or presigned
//! signature, session token, key binding, and, for `aws-chunked` bodies, every chunk
//! signature from the seed signature on), then hands `s3s` the request with every signature
//! marker removed, the decoded body, and the authenticated caller in the request's
//! extensions ([`Authenticated`]). `s3s` is built without an authentication or access
//! provider: it sees an anonymous request, parses the operation, calls our `s3s::S3`
//! implementation (which authorises by policy or grant scope through the kernel) and renders
//! the response or S3 error XML.

use crate::handler::{Authenticated, S3Handler};
use bytes::Bytes;
use http::request::Parts;
use s3s::host::{S3Host, VirtualHost};

/// Query parameters that carry a signature (SigV4 presigned and SigV2 forms).
const SIGNATURE_PARAMS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
];

/// Remove every signature marker from a request our layer has already verified, so that the
/// codec neither re-verifies nor refuses it: the `Authorization` header, the session-token
/// header and the presigned query parameters.
pub fn strip_signature(parts: &mut Parts) {
    parts.headers.remove(http::header::AUTHORIZATION);
    parts.headers.remove("x-amz-security-token");
    let Some(q) = parts.uri.query() else {
        return;
    };
    let kept: Vec<&str> = q
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            !SIGNATURE_PARAMS
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name))
        })
        .collect();
    let path_and_query = if kept.is_empty() {
        parts.uri.path().to_owned()
    } else {
        format!("{}?{}", parts.uri.path(), kept.join("&"))
    };
    let mut uri = http::uri::Builder::new();
    if let Some(s) = parts.uri.scheme() {
        uri = uri.scheme(s.clone());
    }
    if let Some(a) = parts.uri.authority() {
        uri = uri.authority(a.clone());
    }
    if let Ok(u) = uri.path_and_query(path_and_query).build() {
        parts.uri = u;
    }
}

/// Virtual-host-style addressing: a Host of `<bucket>.<base>` (with or without the port)
/// names the bucket; any other Host (an IP address, the base itself, `localhost`) is
/// path-style.
#[derive(Debug, Clone)]
pub struct BaseDomains {
    bases: Vec<String>,
}

impl BaseDomains {
    /// `bases`: host names (no port) under which a leading label names a bucket.
    pub fn new(bases: impl IntoIterator<Item = String>) -> BaseDomains {
        BaseDomains {
            bases: bases.into_iter().map(|b| b.to_ascii_lowercase()).collect(),
        }
    }
}

impl S3Host for BaseDomains {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> s3s::S3Result<VirtualHost<'a>> {
        let name = match host.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        for base in &self.bases {
            if let Some(bucket) = name
                .strip_suffix(base.as_str())
                .and_then(|l| l.strip_suffix('.'))
                .filter(|l| !l.is_empty())
            {
                return Ok(VirtualHost::new(host).with_bucket(bucket.to_owned()));
            }
        }
        Ok(VirtualHost::new(host))
    }
}

/// The S3 protocol codec: an `s3s` service with no authentication or access provider.
#[derive(Clone)]
pub struct S3Codec {
    service: s3s::service::S3Service,
    bases: BaseDomains,
}

impl std::fmt::Debug for S3Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("S3Codec")
    }
}

impl S3Codec {
    /// A codec calling `handler` for each parsed operation, reading virtual-host-style
    /// bucket names under `bases`.
    pub fn new(handler: S3Handler, bases: BaseDomains) -> S3Codec {
        let mut b = s3s::service::S3ServiceBuilder::new(handler);
        b.set_host(bases.clone());
        S3Codec {
            service: b.build(),
            bases,
        }
    }

    /// Whether a request to `host` for `path` names an object (rather than a bucket or the
    /// service), path-style (`/bucket/key`) or virtual-hosted (`bucket.host/key`), as the
    /// codec will read it.
    pub fn names_object(&self, host: Option<&str>, path: &str) -> bool {
        let virtual_hosted = host
            .and_then(|h| self.bases.parse_host_header(h).ok())
            .is_some_and(|v| v.bucket().is_some());
        let rest = path.strip_prefix('/').unwrap_or(path);
        if virtual_hosted {
            !rest.is_empty()
        } else {
            rest.split_once('/').is_some_and(|(_, key)| !key.is_empty())
        }
    }

    /// Serve one request that Tessera's layer authenticated; `body` is the payload, already
    /// verified or wrapped in its verifying stream (and for `aws-chunked`, decoded).
    pub async fn serve(
        &self,
        who: Authenticated,
        mut parts: Parts,
        body: s3s::Body,
    ) -> http::Response<s3s::Body> {
        strip_signature(&mut parts);
        crate::meta::normalize_request_headers(&mut parts.headers);
        parts.extensions.insert(who);
        let req = http::Request::from_parts(parts, body);
        match self.service.call(req).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::error!(error = ?e, "S3 error response could not be rendered");
                internal_error()
            }
        }
    }
}

fn internal_error() -> http::Response<s3s::Body> {
    let mut r = http::Response::new(s3s::Body::from(Bytes::from_static(
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>",
    )));
    *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_markers_are_removed_and_the_rest_kept() {
        let (mut parts, ()) = http::Request::builder()
            .uri("/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&versionId=3&X-Amz-Signature=abc&x-amz-security-token=t")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=…")
            .header("x-amz-security-token", "tok")
            .header("x-amz-date", "20261201T000000Z")
            .body(())
            .unwrap()
            .into_parts();
        strip_signature(&mut parts);
        assert_eq!(parts.uri.to_string(), "/bucket/key?versionId=3");
        assert!(parts.headers.get("authorization").is_none());
        assert!(parts.headers.get("x-amz-security-token").is_none());
        assert!(parts.headers.get("x-amz-date").is_some());
    }
}
