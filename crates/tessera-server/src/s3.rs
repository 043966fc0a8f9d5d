//! S3 requests in the pipeline: our one authentication layer (header or presigned SigV4 under
//! S3 canonicalisation, the session token opened and bound to its key, the security-relevant
//! headers signed), then the body wrapped in its verifying stream (the signed SHA-256, or the
//! `aws-chunked` decoder checking every chunk signature and the trailer), then the `s3s`
//! codec and our handlers. The handler tells the pipeline what to audit.

use crate::app::App;
use crate::auth::{self, AuthRequest};
use crate::pipeline::{Handled, Target};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_audit::EventDetails;
use tessera_core::RequestMeta;
use tessera_s3::body::{AwsChunked, ByteStream, Checked, ChecksumAlgo, ChunkSigning, Expect};
use tessera_s3::{Authenticated, S3Event};
use tessera_sigv4::{Canonicalization, PayloadKind, SigV4Error};
use tessera_wire::AwsError;

/// The S3 data plane, which serves every request no registered service claims: its name in
/// metrics and logs, audit source and error protocol.
pub(crate) const TARGET: Target = Target {
    service: "s3",
    event_source: "s3.amazonaws.com",
    protocol: tessera_wire::Protocol::RestXml,
};

/// A request's own deadline does not cut S3 transfers short (objects may be gigabytes); a
/// body that falls behind its pace (`config::BodyPace`) is cut off instead.
pub const S3_REQUEST_DEADLINE: Duration = Duration::from_secs(6 * 3600);

fn s3_error(status: u16, code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(status, code, message)
}

/// The request body as a stream that must keep `pace` (no long gap, and at least the
/// minimum rate on average): objects of any size may take as long as they need at a decent
/// pace, while a trickle is cut off.
fn body_stream<B>(body: B, pace: crate::config::BodyPace) -> ByteStream
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let data = http_body_util::BodyDataStream::new(body);
    let start = std::time::Instant::now();
    let s = futures::stream::unfold(Some((Box::pin(data), 0u64, start)), move |st| async move {
        let (mut st, received, last) = st?;
        let deadline = pace.deadline(start, received, last);
        match tokio::time::timeout_at(deadline.into(), st.next()).await {
            Err(_) => Some((
                Err(Box::new(s3s::S3Error::with_message(
                    s3s::S3ErrorCode::RequestTimeout,
                    "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
                )) as tessera_s3::body::StdError),
                None,
            )),
            Ok(None) => None,
            Ok(Some(Ok(b))) => {
                let received = received + b.len() as u64;
                Some((Ok(b), Some((st, received, std::time::Instant::now()))))
            }
            Ok(Some(Err(e))) => Some((Err(e.into()), None)),
        }
    });
    Box::pin(s)
}

/// A request signed with Signature Version 2 (header `AWS id:sig` or `AWSAccessKeyId` query).
fn sigv2(parts: &http::request::Parts) -> bool {
    header(parts, "authorization").is_some_and(|v| v.starts_with("AWS "))
        || parts.uri.query().is_some_and(|q| {
            q.split('&')
                .any(|p| p.starts_with("AWSAccessKeyId=") || p.starts_with("Signature="))
        })
}

fn header<'a>(parts: &'a http::request::Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Serve one S3 request.
pub(crate) async fn request<B>(
    app: &App,
    parts: &http::request::Parts,
    body: B,
    meta: &RequestMeta,
) -> Handled
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let t = TARGET;
    let rid = &meta.request_id;
    let parsed = auth::parse(parts);
    let mut h = Handled {
        access_key_id: parsed.as_ref().ok().map(|a| a.access_key_id.clone()),
        data_event: true,
        ..t.handled("Unknown")
    };
    let fail = |mut h: Handled, e: AwsError| {
        let r = e.render(t.protocol, rid);
        h.response = r;
        h.error = Some(e);
        h
    };
    let parsed = match parsed {
        Ok(a) => a,
        // Signature Version 2 (S3 refuses it for buckets created since 2020).
        Err(SigV4Error::MissingAuthentication) if sigv2(parts) => {
            return fail(
                h,
                s3_error(
                    400,
                    "InvalidRequest",
                    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
                ),
            );
        }
        // No anonymous access: there are no public buckets.
        Err(SigV4Error::MissingAuthentication) => {
            return fail(h, s3_error(403, "AccessDenied", "Access Denied"));
        }
        Err(e) => return fail(h, auth::sig_error(&e, Canonicalization::S3)),
    };
    let authed = auth::authenticate_keyed(
        app,
        &AuthRequest {
            parts,
            payload: tessera_sigv4::Payload::Deferred,
            auth: &parsed,
            canon: Canonicalization::S3,
            services: &["s3"],
            now: meta.now,
            protocol: t.protocol,
        },
    )
    .await;
    let (caller, key) = match authed {
        Ok(x) => x,
        Err(e) => return fail(h, e),
    };
    h.caller = Some(caller.clone());

    // The codec's copy of the request: no extensions, headers adjusted for a decoded body.
    let (mut own, ()) = http::Request::new(()).into_parts();
    own.method = parts.method.clone();
    own.uri = parts.uri.clone();
    own.version = parts.version;
    own.headers = parts.headers.clone();
    // S3 ignores a Range header it cannot parse and serves the whole object.
    if let Some(r) = header(parts, "range")
        && s3s::dto::Range::parse(r).is_err()
    {
        own.headers.remove(http::header::RANGE);
    }
    let raw = body_stream(body, app.limits.body_pace());
    let body: ByteStream = match parsed.payload_kind() {
        Some(
            kind @ (PayloadKind::StreamingSigned
            | PayloadKind::StreamingSignedTrailer
            | PayloadKind::StreamingUnsignedTrailer),
        ) => {
            let Some(decoded) = header(parts, "x-amz-decoded-content-length")
                .and_then(|v| v.trim().parse::<u64>().ok())
            else {
                return fail(
                    h,
                    s3_error(
                        411,
                        "MissingContentLength",
                        "You must provide the Content-Length HTTP header (x-amz-decoded-content-length for aws-chunked uploads).",
                    ),
                );
            };
            let trailer = match header(parts, "x-amz-trailer") {
                None => None,
                Some(t) => match ChecksumAlgo::from_header(t) {
                    Some(a) => Some(a),
                    None => {
                        return fail(
                            h,
                            s3_error(
                                400,
                                "InvalidRequest",
                                format!(
                                    "The value specified in the x-amz-trailer header is not supported: {t}"
                                ),
                            ),
                        );
                    }
                },
            };
            let signing = if kind == PayloadKind::StreamingUnsignedTrailer {
                ChunkSigning::Unsigned
            } else {
                ChunkSigning::Signed {
                    key,
                    auth: Box::new(parsed.clone()),
                }
            };
            // The object's length and encoding are the decoded body's.
            own.headers
                .insert(http::header::CONTENT_LENGTH, decoded.into());
            own.headers.remove("x-amz-decoded-content-length");
            if let Some(ce) = header(parts, "content-encoding") {
                match tessera_s3::handler::strip_aws_chunked(ce) {
                    None => {
                        own.headers.remove(http::header::CONTENT_ENCODING);
                    }
                    Some(kept) => {
                        if let Ok(v) = http::HeaderValue::from_str(&kept) {
                            own.headers.insert(http::header::CONTENT_ENCODING, v);
                        }
                    }
                }
            }
            let chunked = AwsChunked::new(raw, signing, trailer);
            Box::pin(Checked::new(
                Box::pin(chunked),
                Expect {
                    length: Some(decoded),
                    ..Default::default()
                },
            ))
        }
        Some(PayloadKind::Sha256(want)) => Box::pin(Checked::new(
            raw,
            Expect {
                sha256: Some(want),
                ..Default::default()
            },
        )),
        _ => raw,
    };
    // An XML request body (DeleteObjects, CompleteMultipartUpload, a configuration) is
    // parsed whole: bound it by what S3 accepts for the operation, before reading it.
    let names_object = app.s3.names_object(header(parts, "host"), parts.uri.path());
    let body = match xml_body(&parts.method, &parts.uri, names_object) {
        None => {
            let frames = body.map(|r| r.map(http_body::Frame::data));
            tessera_s3::Body::http_body_unsync(http_body_util::StreamBody::new(frames))
        }
        Some(op) => {
            let declared =
                header(&own, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
            match read_xml_body(op, declared, body).await {
                Ok(bytes) => tessera_s3::Body::from(bytes),
                Err(e) => return fail(h, e),
            }
        }
    };

    let event = Arc::new(Mutex::new(S3Event::default()));
    let who = Authenticated {
        caller,
        meta: meta.clone(),
        event: event.clone(),
    };
    let resp = app.s3.serve(who, own, body).await;
    let ev = event.lock().expect("event lock").clone();
    if !ev.operation.is_empty() {
        h.action = ev.operation.to_owned();
    }
    let (mut rparts, mut rbody) = resp.into_parts();
    // The codec answers every HeadObject 200; S3 answers a range or part 206, as for GET.
    if ev.operation == "HeadObject"
        && rparts.status == http::StatusCode::OK
        && rparts.headers.contains_key(http::header::CONTENT_RANGE)
    {
        rparts.status = http::StatusCode::PARTIAL_CONTENT;
    }
    if let Ok(v) = http::HeaderValue::from_str(rid) {
        rparts.headers.insert("x-amz-request-id", v.clone());
        rparts.headers.insert("x-amz-id-2", v);
    }
    let status = rparts.status.as_u16();
    if status >= 400 {
        // An error document is small and already rendered: read its code for audit and metrics.
        let text = rbody
            .bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let code = xml_text(&text, "Code").unwrap_or_else(|| "Unknown".into());
        let mut message = xml_text(&text, "Message").unwrap_or_default();
        // S3's error documents name the request (`RequestId`, the `x-amz-request-id` header,
        // and `HostId`, the `x-amz-id-2`): the codec's do not.
        if let Some(with_id) = with_request_id(&text, rid) {
            rparts.headers.insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from(with_id.len()),
            );
            rbody = s3s::Body::from(with_id);
        }
        // The codec rejects some requests with a bare code: S3 always says what was wrong
        // (clients print the message; without one the AWS CLI shows "Unknown").
        if message.is_empty()
            && let Some(default) = default_message(&code)
        {
            message = default.to_owned();
            let e = AwsError::new(status, code.clone(), message.clone());
            let (eparts, ebody) = e.render(tessera_wire::Protocol::RestXml, rid).into_parts();
            for name in [http::header::CONTENT_TYPE, http::header::CONTENT_LENGTH] {
                match eparts.headers.get(&name) {
                    Some(v) => rparts.headers.insert(name, v.clone()),
                    None => rparts.headers.remove(name),
                };
            }
            rparts.headers.insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from(ebody.len()),
            );
            rbody = s3s::Body::from(ebody);
        }
        h.error = Some(AwsError::new(status, code, message));
    }
    h.details = Some(details(app, &ev, parts, &h));
    h.response = http::Response::from_parts(rparts, Bytes::new());
    h.stream = Some(rbody);
    h
}

/// An S3 operation whose request body is an XML document (or a bucket policy) that is
/// parsed whole, with the most S3 accepts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XmlBody {
    /// `POST /bucket?delete`: at most 1,000 keys.
    DeleteObjects,
    /// `POST /bucket/key?uploadId=…`: at most 10,000 parts.
    CompleteMultipartUpload,
    /// Configurations (`?acl`, `?tagging`, `?cors`, `?lifecycle`, `?policy`, …) and
    /// CreateBucket's `CreateBucketConfiguration`.
    Configuration,
}

/// Subresources whose PUT (or POST) body is a configuration document.
const CONFIG_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metadataTable",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "tagging",
    "versioning",
    "website",
];

impl XmlBody {
    /// The largest body accepted: every valid request fits with room to spare (the longest
    /// keys with every character escaped, version ids, checksums of every part), and
    /// anything larger is refused with S3's `MaxMessageLengthExceeded` before it is read.
    pub(crate) fn max_bytes(self) -> u64 {
        match self {
            XmlBody::DeleteObjects | XmlBody::CompleteMultipartUpload => 8 << 20,
            XmlBody::Configuration => 1 << 20,
        }
    }

    /// The most XML markup (`<`) a valid request needs: an element per key or part with
    /// each of its fields, twice (open and close). Parsing cost grows with the number of
    /// elements, not bytes, so a body of many tiny elements is refused as S3 refuses more
    /// than 1,000 keys or 10,000 parts (`MalformedXML`).
    fn max_markup(self) -> usize {
        match self {
            XmlBody::DeleteObjects => 1000 * 16 + 64,
            XmlBody::CompleteMultipartUpload => 10_000 * 20 + 64,
            XmlBody::Configuration => 64 * 1024,
        }
    }
}

/// Which XML operation a request is, from its method and query (and `has_key`: whether the
/// request names an object, path-style or virtual-hosted).
pub(crate) fn xml_body(method: &http::Method, uri: &http::Uri, has_key: bool) -> Option<XmlBody> {
    let keys: Vec<String> = uri
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect()
        })
        .unwrap_or_default();
    let has = |k: &str| keys.iter().any(|q| q == k);
    if *method == http::Method::POST {
        if has("delete") {
            return Some(XmlBody::DeleteObjects);
        }
        if has("uploadId") {
            return Some(XmlBody::CompleteMultipartUpload);
        }
        if CONFIG_SUBRESOURCES.iter().any(|s| has(s)) {
            return Some(XmlBody::Configuration);
        }
        return None;
    }
    if *method == http::Method::PUT {
        if CONFIG_SUBRESOURCES.iter().any(|s| has(s)) {
            return Some(XmlBody::Configuration);
        }
        // CreateBucket: a bucket and no subresource.
        if !has_key && keys.is_empty() {
            return Some(XmlBody::Configuration);
        }
    }
    None
}

fn too_big() -> AwsError {
    s3_error(400, "MaxMessageLengthExceeded", "Your request was too big.")
}

/// Read an XML operation's body, refusing one larger than `op` accepts before reading it
/// (by its declared length), or as soon as it grows past it (no declared length).
async fn read_xml_body(
    op: XmlBody,
    declared: Option<u64>,
    mut body: ByteStream,
) -> Result<Bytes, AwsError> {
    let max = op.max_bytes();
    if declared.is_some_and(|n| n > max) {
        return Err(too_big());
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(max) as usize);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| match e.downcast::<s3s::S3Error>() {
            Ok(s3) => s3_error(
                s3.status_code().map_or(400, |c| c.as_u16()),
                s3.code().as_str(),
                s3.message().unwrap_or_default(),
            ),
            Err(e) => {
                tracing::debug!(error = %e, "reading an XML request body failed");
                s3_error(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
            }
        })?;
        if (buf.len() + chunk.len()) as u64 > max {
            return Err(too_big());
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.iter().filter(|&&b| b == b'<').count() > op.max_markup() {
        return Err(s3_error(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        ));
    }
    Ok(Bytes::from(buf))
}

/// An S3 error document with its `RequestId` and `HostId` set to `rid` (replacing the
/// codec's, or added before `</Error>`); `None` when `doc` is not an error document.
fn with_request_id(doc: &str, rid: &str) -> Option<String> {
    let end = doc.rfind("</Error>")?;
    let mut head = doc[..end].to_owned();
    for tag in ["RequestId", "HostId"] {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        if let Some(a) = head.find(&open)
            && let Some(b) = head[a..].find(&close)
        {
            head.replace_range(a..a + b + close.len(), "");
        }
    }
    let mut id = String::new();
    tessera_wire::xml::escape(rid, &mut id);
    Some(format!(
        "{head}<RequestId>{id}</RequestId><HostId>{id}</HostId>{}",
        &doc[end..]
    ))
}

/// S3's message for an error code, for errors the codec renders without one.
fn default_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "InvalidBucketName" => "The specified bucket is not valid.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "NoSuchUpload" => {
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
        }
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "MalformedXML" => {
            "The XML you provided was not well-formed or did not validate against our published schema."
        }
        "InvalidRange" => "The requested range is not satisfiable",
        "InvalidArgument" => "Invalid Argument",
        "InvalidRequest" => "Invalid Request",
        "NotImplemented" => "A header you provided implies functionality that is not implemented.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed object size.",
        "InvalidDigest" => "The Content-MD5 you specified was invalid.",
        "BadDigest" => "The Content-MD5 you specified did not match what we received.",
        "AccessDenied" => "Access Denied",
        _ => return None,
    })
}

fn xml_text(doc: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = doc.find(&open)? + open.len();
    let end = start + doc[start..].find(&format!("</{tag}>"))?;
    Some(doc[start..end].to_owned())
}

/// The data event's details: what CloudTrail records for S3 (bucket, key, host, resources,
/// bytes), plus the Access Grants grant and GetDataAccess request behind vended credentials.
fn details(app: &App, ev: &S3Event, parts: &http::request::Parts, h: &Handled) -> EventDetails {
    let partition = &app.deployment.partition;
    let mut params = json!({"Host": header(parts, "host").unwrap_or("")});
    let mut resources = Vec::new();
    if let Some(b) = &ev.bucket {
        params["bucketName"] = json!(b);
        if let Some(k) = &ev.key {
            params["key"] = json!(k);
            resources.push(tessera_audit::Resource {
                kind: "AWS::S3::Object".into(),
                arn: format!("arn:{partition}:s3:::{b}/{k}"),
                account_id: None,
            });
        }
        for (ob, ok) in &ev.other_objects {
            resources.push(tessera_audit::Resource {
                kind: "AWS::S3::Object".into(),
                arn: format!("arn:{partition}:s3:::{ob}/{ok}"),
                account_id: None,
            });
        }
        resources.push(tessera_audit::Resource {
            kind: "AWS::S3::Bucket".into(),
            arn: format!("arn:{partition}:s3:::{b}"),
            account_id: h.caller.as_ref().map(|c| c.account.to_string()),
        });
    }
    let presigned = parts
        .uri
        .query()
        .is_some_and(|q| q.contains("X-Amz-Signature="));
    let mut extra = json!({
        "SignatureVersion": "SigV4",
        "AuthenticationMethod": if presigned { "QueryString" } else { "AuthHeader" },
        "bytesTransferredIn": ev.bytes_in,
        "bytesTransferredOut": ev.bytes_out,
    });
    if let Some(g) = h
        .caller
        .as_ref()
        .and_then(|c| c.session.as_ref())
        .and_then(|s| s.grant.as_ref())
    {
        extra["accessGrants"] = json!({"instanceArn": g.instance_arn, "grantId": g.grant_id,
            "grantScope": g.target(), "permission": g.permission.as_str(),
            "getDataAccessRequestId": g.request_id});
    }
    EventDetails {
        user_identity: None,
        request_parameters: params,
        response_elements: serde_json::Value::Null,
        resources,
        read_only: ev.read_only,
        additional_event_data: extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_documents_name_the_request() {
        let doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>m</Message><Key>k</Key></Error>";
        assert_eq!(
            with_request_id(doc, "r-1").unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>m</Message><Key>k</Key><RequestId>r-1</RequestId><HostId>r-1</HostId></Error>"
        );
        let other = "<Error><Code>C</Code><RequestId>theirs</RequestId><HostId>h</HostId></Error>";
        assert_eq!(
            with_request_id(other, "mine").unwrap(),
            "<Error><Code>C</Code><RequestId>mine</RequestId><HostId>mine</HostId></Error>"
        );
        assert_eq!(with_request_id("", "r"), None);
    }

    #[test]
    fn xml_operations_are_known_before_their_body() {
        let op = |m: &str, uri: &str, key: bool| {
            xml_body(&m.parse().unwrap(), &uri.parse().unwrap(), key)
        };
        assert_eq!(op("POST", "/b?delete", false), Some(XmlBody::DeleteObjects));
        assert_eq!(
            op("POST", "/b?delete=", false),
            Some(XmlBody::DeleteObjects)
        );
        assert_eq!(
            op("POST", "/b/k?uploadId=u", true),
            Some(XmlBody::CompleteMultipartUpload)
        );
        assert_eq!(op("POST", "/b/k?uploads", true), None);
        assert_eq!(
            op("PUT", "/b/k?tagging", true),
            Some(XmlBody::Configuration)
        );
        assert_eq!(op("PUT", "/b?cors", false), Some(XmlBody::Configuration));
        assert_eq!(op("PUT", "/b", false), Some(XmlBody::Configuration));
        // Object bodies stream.
        assert_eq!(op("PUT", "/b/k", true), None);
        assert_eq!(op("PUT", "/k", true), None, "virtual-hosted PutObject");
        assert_eq!(op("PUT", "/b/k?partNumber=1&uploadId=u", true), None);
        assert_eq!(op("POST", "/b", false), None, "a browser form upload");
        assert_eq!(op("GET", "/b?delete", false), None);
    }
}
