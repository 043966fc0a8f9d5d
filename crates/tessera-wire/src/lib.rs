//! Shared AWS wire codecs, used by every service crate and by the server.
//!
//! - [`query`]: awsQuery request parameters (form body or query string) with `member.N` lists.
//! - [`xml`]: a small escaping XML writer for awsQuery and restXml bodies.
//! - [`AwsError`] and [`Protocol`]: one error value, rendered in the shape each protocol's SDKs
//!   parse (awsQuery `ErrorResponse`, awsJson1.1 `__type`, restJson1 `x-amzn-ErrorType`,
//!   restXml `ErrorResponse`).
//!
//! - [`CommonError`]: the errors every service shares, rendered per protocol.
//!
//! Service crates map their own error enums to [`AwsError`] in one place each.

mod common;
pub mod query;
pub mod xml;

pub use common::CommonError;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};

/// The AWS protocols Tessera speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// awsQuery (IAM, STS): `Action=…` form requests, XML responses. Carries the XML namespace.
    Query { namespace: &'static str },
    /// awsJson1.1 (sso-admin, identitystore).
    Json11,
    /// restJson1 (sso-oidc).
    RestJson,
    /// restXml with S3's bare `<Error>` error bodies (S3).
    RestXml,
    /// restXml with errors wrapped in `<ErrorResponse>` (s3control: aws-sdk-go-v2 reads only
    /// that form).
    RestXmlWrapped,
    /// SCIM 2.0 (RFC 7644): `application/scim+json`, errors as SCIM Error documents
    /// (§3.12) with a `scimType` field where the error has one.
    Scim,
}

impl Protocol {
    /// Whether the protocol is restXml (S3 or s3control).
    pub fn is_rest_xml(self) -> bool {
        matches!(self, Protocol::RestXml | Protocol::RestXmlWrapped)
    }
}

/// The schema of a SCIM Error document (RFC 7644 §3.12).
pub const SCIM_ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// An error as it goes on the wire: AWS error code, HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Modelled members of the error shape besides the message (`Reason`, `ResourceType`,
    /// …), rendered by the JSON protocols.
    pub fields: Vec<(String, String)>,
}

impl AwsError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> AwsError {
        AwsError {
            status,
            code: code.into(),
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// This error with a modelled member (`Reason`, `ResourceType`, …).
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<String>) -> AwsError {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// Render for `protocol`, with `request_id` in the body where the protocol has it and in the
    /// request-id header the protocol's SDKs read.
    pub fn render(&self, protocol: Protocol, request_id: &str) -> Response<Bytes> {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let (content_type, body) = match protocol {
            Protocol::Query { namespace } => {
                let kind = if self.status >= 500 {
                    "Receiver"
                } else {
                    "Sender"
                };
                let mut w = xml::Writer::new();
                w.open_ns("ErrorResponse", namespace);
                w.open("Error");
                w.elem("Type", kind);
                w.elem("Code", &self.code);
                w.elem("Message", &self.message);
                w.close("Error");
                w.elem("RequestId", request_id);
                w.close("ErrorResponse");
                ("text/xml", w.finish())
            }
            Protocol::Json11 => {
                let mut body = serde_json::json!({"__type": self.code, "Message": self.message});
                for (k, v) in &self.fields {
                    body[k] = serde_json::json!(v);
                }
                ("application/x-amz-json-1.1", body.to_string())
            }
            Protocol::RestJson => {
                // OAuth-style (RFC 6749 §5.2): `error` is the snake-case code without
                // `Exception` (`InvalidGrantException` → `invalid_grant`); SDKs read the code
                // from `x-amzn-ErrorType`.
                let mut body = serde_json::json!({"error": oauth_error(&self.code), "error_description": self.message});
                for (k, v) in &self.fields {
                    body[k] = serde_json::json!(v);
                }
                ("application/json", body.to_string())
            }
            Protocol::Scim => {
                let mut body = serde_json::json!({
                    "schemas": [SCIM_ERROR_SCHEMA],
                    "status": self.status.to_string(),
                    "detail": self.message,
                });
                for (k, v) in &self.fields {
                    body[k] = serde_json::json!(v);
                }
                ("application/scim+json", body.to_string())
            }
            Protocol::RestXml => {
                let mut w = xml::Writer::with_declaration();
                w.open("Error");
                w.elem("Code", &self.code);
                w.elem("Message", &self.message);
                w.elem("RequestId", request_id);
                // S3's error documents also carry `HostId` (what `x-amz-id-2` says).
                w.elem("HostId", request_id);
                w.close("Error");
                ("application/xml", w.finish())
            }
            Protocol::RestXmlWrapped => {
                let mut w = xml::Writer::with_declaration();
                w.open("ErrorResponse");
                w.open("Error");
                w.elem("Code", &self.code);
                w.elem("Message", &self.message);
                w.close("Error");
                w.elem("RequestId", request_id);
                w.elem("HostId", request_id);
                w.close("ErrorResponse");
                ("application/xml", w.finish())
            }
        };
        let mut resp = Response::new(Bytes::from(body));
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-amzn-requestid", v.clone());
            h.insert("x-amz-request-id", v.clone());
            if protocol.is_rest_xml() {
                h.insert("x-amz-id-2", v);
            }
        }
        if matches!(protocol, Protocol::Json11 | Protocol::RestJson)
            && let Ok(v) = HeaderValue::from_str(&self.code)
        {
            h.insert("x-amzn-errortype", v);
        }
        resp
    }
}

/// The OAuth `error` value of an sso-oidc error shape (`InvalidGrantException` →
/// `invalid_grant`; `InternalServerException` → `server_error`).
pub fn oauth_error(code: &str) -> String {
    if code == "InternalServerException" || code == "InternalFailure" {
        return "server_error".into();
    }
    let base = code.strip_suffix("Exception").unwrap_or(code);
    let mut out = String::new();
    for (i, c) in base.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A successful awsQuery response: `<{Action}Response xmlns=…><{Action}Result>…</…Result>
/// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></…Response>`.
/// `result` is the already-rendered inner XML of the result element (may be empty).
pub fn query_response(
    namespace: &str,
    action: &str,
    result: &str,
    request_id: &str,
) -> Response<Bytes> {
    let mut w = xml::Writer::new();
    let root = format!("{action}Response");
    w.open_ns(&root, namespace);
    if !result.is_empty() {
        let r = format!("{action}Result");
        w.open(&r);
        w.raw(result);
        w.close(&r);
    }
    w.open("ResponseMetadata");
    w.elem("RequestId", request_id);
    w.close("ResponseMetadata");
    w.close(&root);
    let mut resp = Response::new(Bytes::from(w.finish()));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Response<Bytes>) -> String {
        String::from_utf8(r.body().to_vec()).unwrap()
    }

    #[test]
    fn query_error_shape() {
        let e = AwsError::new(
            403,
            "AccessDenied",
            "User: x is not authorized <to> & stuff",
        );
        let r = e.render(
            Protocol::Query {
                namespace: IAM_NAMESPACE,
            },
            "req-1",
        );
        assert_eq!(r.status(), 403);
        assert_eq!(
            body(&r),
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: x is not authorized &lt;to&gt; &amp; stuff</Message></Error><RequestId>req-1</RequestId></ErrorResponse>"
        );
        let e = AwsError::new(500, "InternalFailure", "boom");
        assert!(
            body(&e.render(
                Protocol::Query {
                    namespace: STS_NAMESPACE
                },
                "r"
            ))
            .contains("<Type>Receiver</Type>")
        );
    }

    #[test]
    fn json_error_shapes() {
        let e = AwsError::new(400, "ValidationException", "bad");
        let r = e.render(Protocol::Json11, "r");
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["__type"], "ValidationException");
        assert_eq!(r.headers()["x-amzn-errortype"], "ValidationException");
        let r = AwsError::new(400, "ConflictException", "dup")
            .with_field("Reason", "UNIQUENESS_CONSTRAINT_VIOLATION")
            .render(Protocol::Json11, "r");
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["Reason"], "UNIQUENESS_CONSTRAINT_VIOLATION");
        let r = AwsError::new(400, "InvalidGrantException", "bad").render(Protocol::RestJson, "r");
        assert_eq!(r.headers()["x-amzn-errortype"], "InvalidGrantException");
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["error"], "invalid_grant");
        assert_eq!(v["error_description"], "bad");
        assert_eq!(
            oauth_error("UnsupportedGrantTypeException"),
            "unsupported_grant_type"
        );
        assert_eq!(oauth_error("AccessDeniedException"), "access_denied");
        assert_eq!(oauth_error("InternalServerException"), "server_error");
    }

    #[test]
    fn restxml_error_shape() {
        let r = AwsError::new(501, "NotImplemented", "nope").render(Protocol::RestXml, "r1");
        assert_eq!(r.status(), 501);
        assert!(body(&r).starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NotImplemented</Code>"
        ));
    }

    #[test]
    fn query_success_shape() {
        let r = query_response(
            STS_NAMESPACE,
            "GetCallerIdentity",
            "<Account>1</Account>",
            "rid",
        );
        assert_eq!(
            body(&r),
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Account>1</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        );
    }
}
