//! Client-side signing (header form), for requests Tessera itself sends: the S3 upstream
//! backend signs its calls to the object store with the store's own credentials.

use crate::canonical::{header_value_into, uri_encode_into};
use crate::{ALGORITHM, TERMINATOR, compute_signature, format_amz_date, signing_key};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The request to sign.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// `GET`, `PUT`, …
    pub method: &'a str,
    /// The path exactly as it will be sent (already URI-encoded).
    pub path: &'a str,
    /// Query parameters, decoded (they are encoded here as SigV4 canonicalises them).
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign, `host` included; names lower-case.
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    pub payload: &'a str,
}

/// Credentials and scope to sign with.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The secret it belongs to.
    pub secret_access_key: &'a str,
    /// The region of the credential scope.
    pub region: &'a str,
    /// The signing name (`s3`).
    pub service: &'a str,
}

impl std::fmt::Debug for Signer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// Encode a query string the way SigV4 canonicalises it (RFC 3986, sorted), which is also a
/// valid query string to send.
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = query
        .iter()
        .map(|(k, v)| {
            let (mut ek, mut ev) = (Vec::new(), Vec::new());
            uri_encode_into(&mut ek, k.as_bytes(), false);
            uri_encode_into(&mut ev, v.as_bytes(), false);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    let mut out = Vec::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(k);
        out.push(b'=');
        out.extend_from_slice(v);
    }
    String::from_utf8(out).expect("encoded query is ASCII")
}

/// URI-encode an S3 key for a request path (`/` kept).
pub fn encode_path(key: &str) -> String {
    let mut out = Vec::new();
    uri_encode_into(&mut out, key.as_bytes(), true);
    String::from_utf8(out).expect("encoded path is ASCII")
}

/// The `Authorization` header value for `req`, signed at `now` (send `x-amz-date` with
/// [`amz_date`] of the same instant, and `x-amz-content-sha256` for S3, both signed).
pub fn authorization(req: &Outgoing<'_>, s: &Signer<'_>, now: DateTime<Utc>) -> String {
    let mut headers: Vec<(String, &str)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), *v))
        .collect();
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let mut creq = Vec::with_capacity(512);
    creq.extend_from_slice(req.method.as_bytes());
    creq.push(b'\n');
    creq.extend_from_slice(req.path.as_bytes());
    creq.push(b'\n');
    creq.extend_from_slice(canonical_query(req.query).as_bytes());
    creq.push(b'\n');
    for (n, v) in &headers {
        creq.extend_from_slice(n.as_bytes());
        creq.push(b':');
        header_value_into(&mut creq, v.as_bytes());
        creq.push(b'\n');
    }
    creq.push(b'\n');
    let signed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let signed = signed.join(";");
    creq.extend_from_slice(signed.as_bytes());
    creq.push(b'\n');
    creq.extend_from_slice(req.payload.as_bytes());
    let date = format_amz_date(&now);
    let day = &date[..8];
    let scope = format!("{day}/{}/{}/{TERMINATOR}", s.region, s.service);
    let sts = format!(
        "{ALGORITHM}\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(&creq))
    );
    let key = signing_key(s.secret_access_key, day, s.region, s.service);
    let sig = compute_signature(&key, &sts);
    format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed}, Signature={}",
        s.access_key_id,
        hex::encode(sig)
    )
}

/// `YYYYMMDDTHHMMSSZ` for the `x-amz-date` header.
pub fn amz_date(now: DateTime<Utc>) -> String {
    format_amz_date(&now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Canonicalization, Payload, RequestParts, VerifyOptions, parse, verify};

    /// What we sign, our verifier accepts (and so does any SigV4 server: the verifier is
    /// tested against AWS's vectors).
    #[test]
    fn signed_requests_verify() {
        let now = Utc::now();
        let date = amz_date(now);
        let path = format!("/bucket/{}", encode_path("a key/ü+x.txt"));
        let q = [("list-type", "2"), ("prefix", "a b/")];
        let headers = [
            ("host", "127.0.0.1:3900"),
            ("x-amz-date", date.as_str()),
            ("x-amz-content-sha256", crate::UNSIGNED_PAYLOAD),
        ];
        let s = Signer {
            access_key_id: "GK123",
            secret_access_key: "secret",
            region: "garage",
            service: "s3",
        };
        let auth = authorization(
            &Outgoing {
                method: "GET",
                path: &path,
                query: &q,
                headers: &headers,
                payload: crate::UNSIGNED_PAYLOAD,
            },
            &s,
            now,
        );
        let mut b = http::Request::builder()
            .method("GET")
            .uri(format!("{path}?{}", canonical_query(&q)));
        for (n, v) in headers {
            b = b.header(n, v);
        }
        let req = b.header("authorization", auth).body(()).unwrap();
        let rp = RequestParts::from_request(&req);
        let parsed = parse(&rp).unwrap();
        verify(
            &rp,
            &parsed,
            "secret",
            &VerifyOptions {
                now,
                region: "garage",
                services: &["s3"],
                canonicalization: Canonicalization::S3,
                max_skew_secs: 900,
                payload: Payload::Deferred,
            },
        )
        .unwrap();
    }
}
