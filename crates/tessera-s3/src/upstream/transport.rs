//! Talking to the store: signed requests, the store's answers read back (headers, XML,
//! errors), and the headers Tessera sends for conditions and object metadata.

use super::*;

pub(super) fn upstream_failed(what: impl std::fmt::Display) -> S3Error {
    tracing::error!(error = %what, "the upstream object store failed");
    S3Error::with_message(
        S3ErrorCode::InternalError,
        "We encountered an internal error. Please try again.",
    )
}

pub(super) fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

pub(super) fn unquote(e: &str) -> String {
    e.trim().trim_matches('"').to_owned()
}

pub(super) fn http_date_ms(v: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|d| d.timestamp_millis())
}

pub(super) fn iso_ms(v: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|d| d.timestamp_millis())
}

pub(super) fn http_date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

pub(super) fn etag_header(c: &s3s::dto::ETagCondition) -> String {
    match c {
        s3s::dto::ETagCondition::Any => "*".into(),
        s3s::dto::ETagCondition::ETag(e) => format!("\"{}\"", e.value()),
    }
}

pub(super) fn condition_headers(c: &Conditions, prefix: &str, out: &mut Vec<(String, String)>) {
    if let Some(m) = &c.if_match {
        out.push((format!("{prefix}if-match"), etag_header(m)));
    }
    if let Some(m) = &c.if_none_match {
        out.push((format!("{prefix}if-none-match"), etag_header(m)));
    }
    if let Some(t) = c.if_modified_since {
        out.push((format!("{prefix}if-modified-since"), http_date(t)));
    }
    if let Some(t) = c.if_unmodified_since {
        out.push((format!("{prefix}if-unmodified-since"), http_date(t)));
    }
}

pub(super) fn object_headers(h: &ObjectHeaders, out: &mut Vec<(String, String)>) {
    let mut put = |n: &str, v: &Option<String>| {
        if let Some(v) = v {
            out.push((n.to_owned(), v.clone()));
        }
    };
    put("content-type", &h.content_type);
    put("content-encoding", &h.content_encoding);
    put("content-disposition", &h.content_disposition);
    put("content-language", &h.content_language);
    put("cache-control", &h.cache_control);
    put("expires", &h.expires);
    for (k, v) in &h.metadata {
        out.push((format!("x-amz-meta-{k}"), crate::meta::stored_value(v)));
    }
}

pub(super) fn meta_from_headers(key: &str, h: &HeaderMap) -> ObjectMeta {
    let s = |n: &str| header_str(h, n).map(str::to_owned);
    let mut metadata = BTreeMap::new();
    for (n, v) in h {
        if let Some(k) = n.as_str().strip_prefix("x-amz-meta-")
            && let Ok(v) = v.to_str()
        {
            metadata.insert(k.to_owned(), crate::meta::decode_words(v));
        }
    }
    let size = match header_str(h, "content-range").and_then(|r| r.rsplit('/').next()) {
        Some(total) => total.parse().unwrap_or(0),
        None => header_str(h, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    };
    let mut checksums = BTreeMap::new();
    for a in crate::body::ChecksumAlgo::ALL {
        if let Some(v) = header_str(h, a.header()) {
            checksums.insert(a.header().to_owned(), v.to_owned());
        }
    }
    let etag = s("etag").map(|e| unquote(&e)).unwrap_or_default();
    // A multipart object's ETag ends in `-N` (the store also sends a part count for objects
    // stored whole when asked for a part; S3 does not).
    let parts = etag.rsplit_once('-').and_then(|(_, n)| n.parse().ok());
    ObjectMeta {
        key: key.to_owned(),
        size,
        etag,
        last_modified_ms: header_str(h, "last-modified")
            .and_then(http_date_ms)
            .unwrap_or(0),
        headers: ObjectHeaders {
            content_type: s("content-type"),
            content_encoding: s("content-encoding"),
            content_disposition: s("content-disposition"),
            content_language: s("content-language"),
            cache_control: s("cache-control"),
            expires: s("expires"),
            metadata,
        },
        checksums,
        parts,
        part_sizes: Vec::new(),
    }
}

/// The bytes a GET or HEAD was answered with (`Content-Range`), else the whole object.
pub(super) fn answered_range(h: &HeaderMap, size: u64) -> ByteRange {
    match header_str(h, "content-range")
        .and_then(|v| v.strip_prefix("bytes "))
        .and_then(|v| v.split('/').next())
        .and_then(|v| v.split_once('-'))
    {
        Some((a, b)) => ByteRange {
            start: a.parse().unwrap_or(0),
            end: b.parse::<u64>().map(|e| e + 1).unwrap_or(size),
        },
        None => ByteRange {
            start: 0,
            end: size,
        },
    }
}

/// A part request the store refused for its part number (Garage: `InvalidPart`, or a 400
/// without a body to a HEAD) is S3's `InvalidPartNumber`.
pub(super) fn part_error(e: S3Error) -> S3Error {
    if matches!(
        e.code(),
        S3ErrorCode::InvalidPart | S3ErrorCode::InvalidRequest
    ) {
        crate::backend::invalid_part_number()
    } else {
        e
    }
}

/// The S3 error an upstream error response stands for. The store refusing Tessera's own
/// credentials, or failing, is an internal error to the caller; the caller's own mistakes
/// (missing keys, preconditions, ranges, parts) pass through with S3's codes.
pub(super) fn error_from(status: StatusCode, body: &[u8], head: bool) -> S3Error {
    let text = String::from_utf8_lossy(body);
    let doc = tessera_wire::xml::parse(&text).ok();
    let code = doc
        .as_ref()
        .and_then(|d| d.child_text("Code"))
        .map(str::to_owned);
    let message = doc
        .as_ref()
        .and_then(|d| d.child_text("Message"))
        .map(str::to_owned);
    match status.as_u16() {
        304 => return S3Error::new(S3ErrorCode::NotModified),
        401 | 403 => return upstream_failed(format!("{status}: {text}")),
        404 if head || code.is_none() => {
            return s3_error!(NoSuchKey, "The specified key does not exist.");
        }
        // A HEAD's error has no document: a 400 is the request's own fault.
        400 if head && code.is_none() => {
            return s3_error!(InvalidRequest, "The store refused the request");
        }
        412 if code.is_none() => {
            return s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            );
        }
        s if s >= 500 && s != 503 => return upstream_failed(format!("{status}: {text}")),
        _ => {}
    }
    let Some(code) = code else {
        return upstream_failed(format!("{status} without an error document"));
    };
    let c = S3ErrorCode::from_bytes(code.as_bytes())
        .unwrap_or(S3ErrorCode::Custom(code.clone().into()));
    let mut e = match message {
        Some(m) => S3Error::with_message(c, m),
        None => S3Error::new(c),
    };
    e.set_status_code(status);
    e
}

impl UpstreamBackend {
    pub(super) async fn xml(
        &self,
        resp: http::Response<hyper::body::Incoming>,
    ) -> S3Result<tessera_wire::xml::Element> {
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(upstream_failed)?
            .to_bytes();
        tessera_wire::xml::parse(&String::from_utf8_lossy(&body)).map_err(upstream_failed)
    }

    /// Send one signed request; an error response becomes the S3 error it stands for.
    pub(super) async fn call(
        &self,
        method: Method,
        bucket: Option<&str>,
        key: Option<&str>,
        query: &[(&str, &str)],
        mut headers: Vec<(String, String)>,
        body: Send,
    ) -> S3Result<http::Response<hyper::body::Incoming>> {
        let mut path = String::from("/");
        if let Some(b) = bucket {
            path.push_str(b);
            if let Some(k) = key {
                path.push('/');
                path.push_str(&upstream_key_path(k));
            }
        }
        let q = sign::canonical_query(query);
        let now = chrono::Utc::now();
        let date = sign::amz_date(now);
        let (payload, body, length): (String, ReqBody, Option<u64>) = match body {
            Send::Empty => (
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"")),
                http_body_util::Empty::new()
                    .map_err(|n| match n {})
                    .boxed_unsync(),
                None,
            ),
            Send::Bytes(b) => (
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&b)),
                http_body_util::Full::new(b.clone())
                    .map_err(|n| match n {})
                    .boxed_unsync(),
                Some(b.len() as u64),
            ),
            Send::Stream(s, len) => (
                tessera_sigv4::UNSIGNED_PAYLOAD.to_owned(),
                // A body failing its checks at the end never reaches the store whole.
                http_body_util::StreamBody::new(
                    crate::body::HoldLast::new(s).map(|r| r.map(http_body::Frame::data)),
                )
                .boxed_unsync(),
                Some(len),
            ),
        };
        headers.push(("host".into(), self.inner.host.clone()));
        headers.push(("x-amz-date".into(), date));
        headers.push(("x-amz-content-sha256".into(), payload.clone()));
        let signed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let auth = sign::authorization(
            &Outgoing {
                method: method.as_str(),
                path: &path,
                query,
                headers: &signed,
                payload: &payload,
            },
            &Signer {
                access_key_id: &self.inner.cfg.access_key_id,
                secret_access_key: &self.inner.cfg.secret_access_key,
                region: &self.inner.cfg.region,
                service: "s3",
            },
            now,
        );
        let uri = if q.is_empty() {
            format!("{}{path}", self.inner.scheme_authority)
        } else {
            format!("{}{path}?{q}", self.inner.scheme_authority)
        };
        let mut b = http::Request::builder().method(method.clone()).uri(uri);
        for (n, v) in &headers {
            if n == "host" {
                continue;
            }
            b = b.header(
                n.as_str(),
                HeaderValue::from_str(v).map_err(upstream_failed)?,
            );
        }
        b = b.header(http::header::AUTHORIZATION, auth);
        if let Some(l) = length {
            b = b.header(http::header::CONTENT_LENGTH, l);
        }
        let req = b.body(body).map_err(upstream_failed)?;
        let resp = match self.inner.client.request(req).await {
            Ok(r) => r,
            Err(e) => {
                // A request body that failed its checks aborts the upload: report why.
                let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
                while let Some(s) = src {
                    if let Some(s3) = s.downcast_ref::<S3Error>() {
                        return Err(S3Error::with_message(
                            s3.code().clone(),
                            s3.message().unwrap_or("").to_owned(),
                        ));
                    }
                    src = s.source();
                }
                return Err(upstream_failed(e));
            }
        };
        if resp.status().is_success() || resp.status() == StatusCode::PARTIAL_CONTENT {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Err(error_from(status, &body, method == Method::HEAD))
    }

    pub(super) fn put_headers(new: &NewObject) -> Vec<(String, String)> {
        let mut h = Vec::new();
        object_headers(&new.headers, &mut h);
        for (n, v) in &new.checksums {
            h.push((n.clone(), v.clone()));
        }
        h
    }
}
/// A key as a request path for the store.
pub(super) fn upstream_key_path(key: &str) -> String {
    sign::encode_path(key)
}

/// Keys the store cannot keep apart from others are refused rather than aliased: stores such
/// as Garage read a key's leading `/` away, so `/a` and `a` would be one object.
pub(super) fn representable(key: &str) -> S3Result<()> {
    if key.starts_with('/') {
        return Err(s3_error!(
            InvalidArgument,
            "Object keys beginning with '/' are not supported by the object store behind this server."
        ));
    }
    Ok(())
}

pub(super) fn body_stream(resp: http::Response<hyper::body::Incoming>) -> ByteStream {
    let s = http_body_util::BodyDataStream::new(resp.into_body())
        .map(|r| r.map_err(|e| Box::new(e) as s3s::StdError));
    Box::pin(s)
}

/// An error document re-serialised (for an error the store put in a 200 answer).
pub(super) fn tessera_wire_text(doc: &tessera_wire::xml::Element) -> String {
    let mut w = tessera_wire::xml::Writer::new();
    w.open("Error");
    w.elem("Code", doc.child_text("Code").unwrap_or("InternalError"));
    w.elem("Message", doc.child_text("Message").unwrap_or(""));
    w.close("Error");
    w.finish()
}
