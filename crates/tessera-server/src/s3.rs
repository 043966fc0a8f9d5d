//! S3 requests in the pipeline: our one authentication layer (header or presigned SigV4 under
//! S3 canonicalisation, the session token opened and bound to its key, the security-relevant
//! headers signed), then the body wrapped in its verifying stream (the signed SHA-256, or the
//! `aws-chunked` decoder checking every chunk signature and the trailer), then the `s3s`
//! codec and our handlers. The handler tells the pipeline what to audit.

use crate::app::{App, Handled, placeholder};
use crate::auth::{self, AuthRequest};
use crate::routing::Route;
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

/// A request's own deadline does not cut S3 transfers short (objects may be gigabytes); a
/// body that stops moving is cut off by [`BODY_STALL`] instead.
pub const S3_REQUEST_DEADLINE: Duration = Duration::from_secs(6 * 3600);

fn s3_error(status: u16, code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(status, code, message)
}

/// The request body as a stream whose every read must arrive within `stall`.
fn body_stream<B>(body: B, stall: Duration) -> ByteStream
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let data = http_body_util::BodyDataStream::new(body);
    let s = futures::stream::unfold(Some(Box::pin(data)), move |st| async move {
        let mut st = st?;
        match tokio::time::timeout(stall, st.next()).await {
            Err(_) => Some((
                Err(Box::new(s3s::S3Error::with_message(
                    s3s::S3ErrorCode::RequestTimeout,
                    "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
                )) as tessera_s3::body::StdError),
                None,
            )),
            Ok(None) => None,
            Ok(Some(Ok(b))) => Some((Ok(b), Some(st))),
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
    let t = placeholder(&Route::S3);
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
    let raw = body_stream(body, app.limits.body_read_timeout());
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
                let kept: Vec<&str> = ce
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
                    .collect();
                if kept.is_empty() {
                    own.headers.remove(http::header::CONTENT_ENCODING);
                } else if let Ok(v) = http::HeaderValue::from_str(&kept.join(",")) {
                    own.headers.insert(http::header::CONTENT_ENCODING, v);
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
    let frames = body.map(|r| r.map(http_body::Frame::data));
    let body = tessera_s3::Body::http_body_unsync(http_body_util::StreamBody::new(frames));

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
