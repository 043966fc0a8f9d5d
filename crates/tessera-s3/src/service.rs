//! S3 as a registered service: the fallback that serves every request no other declaration
//! claims. The server has authenticated the request (SigV4, S3 canonicalisation, payload
//! deferred); here the body is wrapped in its verifying stream (the signed SHA-256, or the
//! `aws-chunked` decoder checking every chunk signature and the trailer), XML bodies are
//! bounded, the `s3s` codec and our handlers run, and the response gets S3's finishing
//! touches (request ids in error documents, default messages, HeadObject's 206). The
//! handlers say what the audit record holds.

use crate::body::{AwsChunked, ByteStream, Checked, ChecksumAlgo, ChunkSigning, Expect};
use crate::xml_body::{read_xml_body, xml_body};
use crate::{Authenticated, S3Codec, S3Event};
use async_trait::async_trait;
use futures::StreamExt;
use http::request::Parts;
use http_body_util::BodyExt;
use serde_json::json;
use std::sync::{Arc, Mutex};
use tessera_audit::{EventDetails, Resource};
use tessera_core::Caller;
use tessera_service::{
    Routing, ServiceSpec, Signature, StreamBody, StreamCall, StreamReply, Streaming,
};
use tessera_sigv4::PayloadKind;
use tessera_wire::{AwsError, CommonError, Protocol};

/// S3's declaration: the REST API no other service claims.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "s3",
    signing_names: &["s3"],
    protocol: Protocol::RestXml,
    event_source: "s3.amazonaws.com",
    routing: Routing::Fallback,
};

/// The S3 data plane as the server registers it.
#[derive(Debug, Clone)]
pub struct S3Service {
    codec: S3Codec,
    partition: String,
}

impl S3Service {
    /// The service over `codec`, naming resources in `partition` (`aws`).
    pub fn new(codec: S3Codec, partition: impl Into<String>) -> S3Service {
        S3Service {
            codec,
            partition: partition.into(),
        }
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// A request signed with Signature Version 2 (header `AWS id:sig` or `AWSAccessKeyId` query).
fn sigv2(parts: &Parts) -> bool {
    header(parts, "authorization").is_some_and(|v| v.starts_with("AWS "))
        || parts.uri.query().is_some_and(|q| {
            q.split('&')
                .any(|p| p.starts_with("AWSAccessKeyId=") || p.starts_with("Signature="))
        })
}

/// The body with the server's stream errors (a client that fell behind: a boxed
/// [`CommonError`]) turned into the S3 errors the handlers and backends read.
fn with_s3_errors(body: ByteStream) -> ByteStream {
    Box::pin(body.map(|r| {
        r.map_err(|e| match e.downcast::<CommonError>() {
            Ok(c) => {
                let aws = c.to_aws(Protocol::RestXml);
                let mut s3 = s3s::S3Error::with_message(
                    s3s::S3ErrorCode::from_bytes(aws.code.as_bytes())
                        .unwrap_or(s3s::S3ErrorCode::Custom(aws.code.clone().into())),
                    aws.message,
                );
                if let Ok(status) = http::StatusCode::from_u16(aws.status) {
                    s3.set_status_code(status);
                }
                Box::new(s3) as crate::body::StdError
            }
            Err(e) => e,
        })
    }))
}

/// The request's body wrapped in what verifies it against the signature: the signed
/// SHA-256, or the `aws-chunked` decoder (chunk signatures, trailer). For `aws-chunked`,
/// `own`'s headers become the decoded body's (length, encoding).
fn verified_body(
    own: &mut Parts,
    raw: ByteStream,
    signature: Signature,
) -> Result<ByteStream, AwsError> {
    let kind = match signature.auth.payload_kind() {
        Some(PayloadKind::Sha256(want)) => {
            return Ok(Box::pin(Checked::new(
                raw,
                Expect {
                    sha256: Some(want),
                    ..Default::default()
                },
            )));
        }
        Some(
            k @ (PayloadKind::StreamingSigned
            | PayloadKind::StreamingSignedTrailer
            | PayloadKind::StreamingUnsignedTrailer),
        ) => k,
        _ => return Ok(raw),
    };
    let Some(decoded) =
        header(own, "x-amz-decoded-content-length").and_then(|v| v.trim().parse::<u64>().ok())
    else {
        return Err(AwsError::new(
            411,
            "MissingContentLength",
            "You must provide the Content-Length HTTP header (x-amz-decoded-content-length for aws-chunked uploads).",
        ));
    };
    let trailer = match header(own, "x-amz-trailer") {
        None => None,
        Some(t) => Some(ChecksumAlgo::from_header(t).ok_or_else(|| {
            AwsError::new(
                400,
                "InvalidRequest",
                format!("The value specified in the x-amz-trailer header is not supported: {t}"),
            )
        })?),
    };
    let signing = if kind == PayloadKind::StreamingUnsignedTrailer {
        ChunkSigning::Unsigned
    } else {
        ChunkSigning::Signed {
            key: signature.key,
            auth: Box::new(signature.auth),
        }
    };
    // The object's length and encoding are the decoded body's.
    own.headers
        .insert(http::header::CONTENT_LENGTH, decoded.into());
    own.headers.remove("x-amz-decoded-content-length");
    if let Some(ce) = header(own, "content-encoding").map(str::to_owned) {
        match crate::handler::strip_aws_chunked(&ce) {
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
    Ok(Box::pin(Checked::new(
        Box::pin(chunked),
        Expect {
            length: Some(decoded),
            ..Default::default()
        },
    )))
}

#[async_trait]
impl Streaming for S3Service {
    fn spec(&self) -> &'static ServiceSpec {
        &SPEC
    }

    fn unsigned(&self, parts: &Parts) -> AwsError {
        if sigv2(parts) {
            // Signature Version 2 (S3 refuses it for buckets created since 2020).
            AwsError::new(
                400,
                "InvalidRequest",
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
            )
        } else {
            // No anonymous access: there are no public buckets.
            AwsError::new(403, "AccessDenied", "Access Denied")
        }
    }

    async fn serve(&self, call: StreamCall) -> StreamReply {
        let StreamCall {
            caller,
            signature,
            meta,
            parts,
            body,
        } = call;
        let rid = meta.request_id.clone();
        let mut reply = StreamReply {
            response: http::Response::new(empty()),
            operation: "Unknown".into(),
            error: None,
            details: EventDetails::default(),
            data_event: true,
        };
        // What the audit record needs of the request as it was received.
        let host = header(&parts, "host").unwrap_or("").to_owned();
        let presigned = parts
            .uri
            .query()
            .is_some_and(|q| q.contains("X-Amz-Signature="));
        // The codec's copy of the request: no extensions, headers adjusted for a decoded body.
        let mut own = parts;
        own.extensions = http::Extensions::new();
        // S3 ignores a Range header it cannot parse and serves the whole object.
        if header(&own, "range").is_some_and(|r| s3s::dto::Range::parse(r).is_err()) {
            own.headers.remove(http::header::RANGE);
        }
        let body = match verified_body(&mut own, with_s3_errors(body), signature) {
            Ok(b) => b,
            Err(e) => return failed(reply, e, &rid),
        };
        // An XML request body (DeleteObjects, CompleteMultipartUpload, a configuration) is
        // parsed whole: bound it by what S3 accepts for the operation, before reading it.
        let names_object = self.codec.names_object(Some(&host), own.uri.path());
        let body = match xml_body(&own.method, &own.uri, names_object) {
            None => {
                let frames = body.map(|r| r.map(http_body::Frame::data));
                s3s::Body::http_body_unsync(http_body_util::StreamBody::new(frames))
            }
            Some(op) => {
                let declared =
                    header(&own, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
                match read_xml_body(op, declared, body).await {
                    Ok(bytes) => s3s::Body::from(bytes),
                    Err(e) => return failed(reply, e, &rid),
                }
            }
        };

        let event = Arc::new(Mutex::new(S3Event::default()));
        let who = Authenticated {
            caller: caller.clone(),
            meta,
            event: event.clone(),
        };
        let resp = self.codec.serve(who, own, body).await;
        let ev = event.lock().expect("event lock").clone();
        if !ev.operation.is_empty() {
            reply.operation = ev.operation.to_owned();
        }
        let (mut rparts, rbody) = resp.into_parts();
        // The codec answers every HeadObject 200; S3 answers a range or part 206, as for GET.
        if ev.operation == "HeadObject"
            && rparts.status == http::StatusCode::OK
            && rparts.headers.contains_key(http::header::CONTENT_RANGE)
        {
            rparts.status = http::StatusCode::PARTIAL_CONTENT;
        }
        set_request_id(&mut rparts.headers, &rid);
        let rbody = if rparts.status.as_u16() >= 400 {
            let (e, body) = finish_error(&mut rparts, rbody, &rid);
            reply.error = Some(e);
            body
        } else {
            rbody
        };
        reply.details = self.details(&ev, &host, presigned, &caller);
        reply.response = http::Response::from_parts(rparts, rbody.boxed_unsync());
        reply
    }
}

fn empty() -> StreamBody {
    http_body_util::Empty::new()
        .map_err(|n| match n {})
        .boxed_unsync()
}

fn set_request_id(headers: &mut http::HeaderMap, rid: &str) {
    if let Ok(v) = http::HeaderValue::from_str(rid) {
        headers.insert("x-amz-request-id", v.clone());
        headers.insert("x-amz-id-2", v);
    }
}

/// `reply` failing with `e` before the codec ran.
fn failed(mut reply: StreamReply, e: AwsError, rid: &str) -> StreamReply {
    let (parts, body) = e.render(Protocol::RestXml, rid).into_parts();
    reply.response = http::Response::from_parts(
        parts,
        http_body_util::Full::new(body)
            .map_err(|n| match n {})
            .boxed_unsync(),
    );
    reply.error = Some(e);
    reply
}

/// An error response from the codec made S3's: its document names the request, and a bare
/// code gets S3's message. Returns the error (for metrics and audit) and the body.
fn finish_error(
    rparts: &mut http::response::Parts,
    mut rbody: s3s::Body,
    rid: &str,
) -> (AwsError, s3s::Body) {
    let status = rparts.status.as_u16();
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
        let (eparts, ebody) = e.render(Protocol::RestXml, rid).into_parts();
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
    (AwsError::new(status, code, message), rbody)
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
impl S3Service {
    fn details(&self, ev: &S3Event, host: &str, presigned: bool, caller: &Caller) -> EventDetails {
        let partition = &self.partition;
        let mut params = json!({ "Host": host });
        let mut resources = Vec::new();
        if let Some(b) = &ev.bucket {
            params["bucketName"] = json!(b);
            if let Some(k) = &ev.key {
                params["key"] = json!(k);
                resources.push(Resource {
                    kind: "AWS::S3::Object".into(),
                    arn: format!("arn:{partition}:s3:::{b}/{k}"),
                    account_id: None,
                });
            }
            for (ob, ok) in &ev.other_objects {
                resources.push(Resource {
                    kind: "AWS::S3::Object".into(),
                    arn: format!("arn:{partition}:s3:::{ob}/{ok}"),
                    account_id: None,
                });
            }
            resources.push(Resource {
                kind: "AWS::S3::Bucket".into(),
                arn: format!("arn:{partition}:s3:::{b}"),
                account_id: Some(caller.account.to_string()),
            });
        }
        let mut extra = json!({
            "SignatureVersion": "SigV4",
            "AuthenticationMethod": if presigned { "QueryString" } else { "AuthHeader" },
            "bytesTransferredIn": ev.bytes_in,
            "bytesTransferredOut": ev.bytes_out,
        });
        if let Some(g) = caller.session.as_ref().and_then(|s| s.grant.as_ref()) {
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
}
