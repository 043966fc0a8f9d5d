//! Request bodies checked while they stream: the signed payload hash, `aws-chunked` chunk and
//! trailer signatures, the trailing checksum, `Content-MD5` and the `x-amz-checksum-*` headers.
//!
//! Every check that needs the whole body fails the stream with an S3 error *before* its end,
//! so a backend that commits an object only once the stream ended cleanly never stores a body
//! whose signature or digest is wrong.

use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use futures::Stream;
pub use s3s::StdError;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::Checksum as _;
use s3s::{S3Error, S3ErrorCode};
use sha2::{Digest, Sha256};
use std::pin::Pin;
use std::task::{Context, Poll};
use tessera_sigv4::ParsedAuth;

/// A stream of body bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, StdError>> + Send>>;

fn s3err(code: S3ErrorCode, msg: impl Into<String>) -> StdError {
    Box::new(S3Error::with_message(code, msg.into()))
}

/// The S3 error a body stream failed with (or `IncompleteBody` for a transport error).
pub fn stream_error(e: StdError) -> S3Error {
    match e.downcast::<S3Error>() {
        Ok(e) => *e,
        Err(e) => S3Error::with_message(
            S3ErrorCode::IncompleteBody,
            format!("The request body could not be read: {e}"),
        ),
    }
}

/// `XAmzContentSHA256Mismatch` (400).
pub fn sha256_mismatch() -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

/// The checksum algorithms S3 knows, by their header names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgo {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgo {
    pub const ALL: [ChecksumAlgo; 5] = [
        ChecksumAlgo::Crc32,
        ChecksumAlgo::Crc32c,
        ChecksumAlgo::Crc64Nvme,
        ChecksumAlgo::Sha1,
        ChecksumAlgo::Sha256,
    ];

    pub fn header(self) -> &'static str {
        match self {
            ChecksumAlgo::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgo::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgo::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgo::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgo::Sha256 => "x-amz-checksum-sha256",
        }
    }

    pub fn from_header(name: &str) -> Option<ChecksumAlgo> {
        ChecksumAlgo::ALL
            .into_iter()
            .find(|a| a.header().eq_ignore_ascii_case(name.trim()))
    }

    /// The digest length in bytes.
    fn len(self) -> usize {
        match self {
            ChecksumAlgo::Crc32 | ChecksumAlgo::Crc32c => 4,
            ChecksumAlgo::Crc64Nvme => 8,
            ChecksumAlgo::Sha1 => 20,
            ChecksumAlgo::Sha256 => 32,
        }
    }

    fn enable(self, h: &mut ChecksumHasher) {
        use s3s::crypto::{Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
        match self {
            ChecksumAlgo::Crc32 => h.crc32 = Some(Crc32::new()),
            ChecksumAlgo::Crc32c => h.crc32c = Some(Crc32c::new()),
            ChecksumAlgo::Crc64Nvme => h.crc64nvme = Some(Crc64Nvme::new()),
            ChecksumAlgo::Sha1 => h.sha1 = Some(Sha1::new()),
            ChecksumAlgo::Sha256 => h.sha256 = Some(Sha256::new()),
        }
    }

    fn pick(self, c: &s3s::dto::Checksum) -> Option<&str> {
        match self {
            ChecksumAlgo::Crc32 => c.checksum_crc32.as_deref(),
            ChecksumAlgo::Crc32c => c.checksum_crc32c.as_deref(),
            ChecksumAlgo::Crc64Nvme => c.checksum_crc64nvme.as_deref(),
            ChecksumAlgo::Sha1 => c.checksum_sha1.as_deref(),
            ChecksumAlgo::Sha256 => c.checksum_sha256.as_deref(),
        }
    }
}

/// A checksum value a client sent, checked for form: base64 of the algorithm's digest length.
pub fn valid_checksum_value(algo: ChecksumAlgo, value: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .is_ok_and(|b| b.len() == algo.len())
}

/// What a body must turn out to be, checked at its end.
#[derive(Debug, Default, Clone)]
pub struct Expect {
    /// The signed `x-amz-content-sha256` (hex) of a non-streaming body.
    pub sha256: Option<[u8; 32]>,
    /// `Content-MD5`, decoded.
    pub md5: Option<[u8; 16]>,
    /// `x-amz-checksum-*` headers (base64 values), or the trailer's checksum once known.
    pub checksums: Vec<(ChecksumAlgo, String)>,
    /// The exact decoded length, when the client declared it.
    pub length: Option<u64>,
}

/// A body checked against [`Expect`] while it streams; the last item before the end is an
/// error if anything does not match.
pub struct Checked {
    inner: ByteStream,
    expect: Expect,
    sha256: Option<Sha256>,
    md5: Option<s3s::crypto::Md5>,
    sums: Option<ChecksumHasher>,
    seen: u64,
    done: bool,
}

impl Checked {
    pub fn new(inner: ByteStream, expect: Expect) -> Checked {
        let mut sums = None;
        for (a, _) in &expect.checksums {
            a.enable(sums.get_or_insert_with(ChecksumHasher::default));
        }
        Checked {
            inner,
            sha256: expect.sha256.map(|_| Sha256::new()),
            md5: expect.md5.map(|_| s3s::crypto::Md5::new()),
            sums,
            expect,
            seen: 0,
            done: false,
        }
    }

    fn finish(&mut self) -> Result<(), StdError> {
        if let Some(len) = self.expect.length
            && len != self.seen
        {
            return Err(s3err(
                S3ErrorCode::IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            ));
        }
        if let (Some(want), Some(h)) = (self.expect.sha256, self.sha256.take()) {
            let got: [u8; 32] = h.finalize().into();
            if !tessera_sigv4::signatures_equal(&want, &got) {
                return Err(Box::new(sha256_mismatch()));
            }
        }
        if let (Some(want), Some(h)) = (self.expect.md5, self.md5.take())
            && h.finalize() != want
        {
            return Err(s3err(
                S3ErrorCode::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
        if let Some(h) = self.sums.take() {
            let got = h.finalize();
            for (a, want) in &self.expect.checksums {
                if a.pick(&got) != Some(want.trim()) {
                    return Err(s3err(
                        S3ErrorCode::BadDigest,
                        format!(
                            "The {} you specified did not match the calculated checksum.",
                            a.header()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Stream for Checked {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(b))) => {
                this.seen += b.len() as u64;
                if let Some(len) = this.expect.length
                    && this.seen > len
                {
                    this.done = true;
                    return Poll::Ready(Some(Err(s3err(
                        S3ErrorCode::IncompleteBody,
                        "The request body is longer than its declared length.",
                    ))));
                }
                if let Some(h) = &mut this.sha256 {
                    h.update(&b);
                }
                if let Some(h) = &mut this.md5 {
                    h.update(&b);
                }
                if let Some(h) = &mut this.sums {
                    h.update(&b);
                }
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.done = true;
                match this.finish() {
                    Ok(()) => Poll::Ready(None),
                    Err(e) => Poll::Ready(Some(Err(e))),
                }
            }
        }
    }
}

/// A body that yields each chunk only once the next one (or the clean end) has arrived, so
/// that a check failing at the end of the body withholds the body's last bytes. Forwarded to
/// a store with a `Content-Length`, a failed body then arrives short and is never stored.
pub struct HoldLast {
    inner: ByteStream,
    held: Option<Bytes>,
    done: bool,
}

impl HoldLast {
    pub fn new(inner: ByteStream) -> HoldLast {
        HoldLast {
            inner,
            held: None,
            done: false,
        }
    }
}

impl Stream for HoldLast {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(b))) => {
                    if b.is_empty() {
                        continue;
                    }
                    if let Some(prev) = this.held.replace(b) {
                        return Poll::Ready(Some(Ok(prev)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    this.held = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(this.held.take().map(Ok));
                }
            }
        }
    }
}

/// How an `aws-chunked` body is signed.
#[derive(Debug, Clone)]
pub enum ChunkSigning {
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: no chunk signatures.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: every chunk signed, chained from the
    /// request's seed signature with the request's signing key.
    Signed {
        key: [u8; 32],
        auth: Box<ParsedAuth>,
    },
}

/// The longest chunk header or trailer line accepted.
const MAX_LINE: usize = 4096;
/// The most trailer bytes accepted.
const MAX_TRAILER: usize = 16 * 1024;

enum State {
    /// Reading a `size[;chunk-signature=…]\r\n` line.
    Header,
    /// Within a chunk's data.
    Data {
        left: u64,
    },
    /// The `\r\n` after a chunk's data.
    DataEnd,
    /// After the final (empty) chunk: trailer lines up to an empty line.
    Trailer,
    Done,
}

/// An `aws-chunked` body decoded while it streams, with every chunk signature (and the
/// trailer's signature and checksum) verified before the end is reported.
pub struct AwsChunked {
    inner: ByteStream,
    buf: BytesMut,
    state: State,
    signing: ChunkSigning,
    previous: String,
    chunk_sig: Option<[u8; 32]>,
    chunk_hash: Sha256,
    /// The checksum announced by `x-amz-trailer`, computed over the decoded data.
    trailer_algo: Option<ChecksumAlgo>,
    sums: Option<ChecksumHasher>,
    trailer: Vec<u8>,
    eof: bool,
    failed: bool,
}

impl AwsChunked {
    pub fn new(inner: ByteStream, signing: ChunkSigning, trailer: Option<ChecksumAlgo>) -> Self {
        let previous = match &signing {
            ChunkSigning::Signed { auth, .. } => auth.signature_hex(),
            ChunkSigning::Unsigned => String::new(),
        };
        let sums = trailer.map(|a| {
            let mut h = ChecksumHasher::default();
            a.enable(&mut h);
            h
        });
        AwsChunked {
            inner,
            buf: BytesMut::new(),
            state: State::Header,
            signing,
            previous,
            chunk_sig: None,
            chunk_hash: Sha256::new(),
            trailer_algo: trailer,
            sums,
            trailer: Vec::new(),
            eof: false,
            failed: false,
        }
    }

    fn bad(msg: &str) -> StdError {
        s3err(
            S3ErrorCode::IncompleteBody,
            format!("The aws-chunked body is malformed: {msg}"),
        )
    }

    fn signature_mismatch() -> StdError {
        s3err(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
    }

    /// Take one `\r\n`-terminated line from the buffer, if complete.
    fn line(&mut self) -> Result<Option<Bytes>, StdError> {
        match memchr_crlf(&self.buf) {
            Some(i) => {
                let line = self.buf.split_to(i).freeze();
                self.buf.advance(2);
                Ok(Some(line))
            }
            None if self.buf.len() > MAX_LINE => Err(Self::bad("line too long")),
            None => Ok(None),
        }
    }

    fn header(&mut self, line: &[u8]) -> Result<(), StdError> {
        let text = std::str::from_utf8(line).map_err(|_| Self::bad("chunk header"))?;
        let (size, ext) = match text.split_once(';') {
            Some((s, e)) => (s, Some(e)),
            None => (text, None),
        };
        if size.is_empty() || size.len() > 16 {
            return Err(Self::bad("chunk size"));
        }
        let size = u64::from_str_radix(size, 16).map_err(|_| Self::bad("chunk size"))?;
        match &self.signing {
            ChunkSigning::Signed { .. } => {
                let sig = ext
                    .and_then(|e| e.strip_prefix("chunk-signature="))
                    .ok_or_else(|| Self::bad("missing chunk-signature"))?;
                let mut out = [0u8; 32];
                hex::decode_to_slice(sig, &mut out).map_err(|_| Self::bad("chunk-signature"))?;
                self.chunk_sig = Some(out);
            }
            ChunkSigning::Unsigned => {
                if ext.is_some() {
                    return Err(Self::bad("unexpected chunk extension"));
                }
            }
        }
        self.chunk_hash = Sha256::new();
        if size == 0 {
            self.end_chunk()?;
            self.state = State::Trailer;
        } else {
            self.state = State::Data { left: size };
        }
        Ok(())
    }

    /// Verify the chunk just read against its signature and chain to it.
    fn end_chunk(&mut self) -> Result<(), StdError> {
        if let ChunkSigning::Signed { key, auth } = &self.signing {
            let hash: [u8; 32] = std::mem::take(&mut self.chunk_hash).finalize().into();
            let want = tessera_sigv4::chunk_signature(key, auth, &self.previous, &hash);
            let sent = self.chunk_sig.take().unwrap_or_default();
            if !tessera_sigv4::signatures_equal(&want, &sent) {
                return Err(Self::signature_mismatch());
            }
            self.previous = hex::encode(sent);
        }
        Ok(())
    }

    /// The trailer is complete: check its signature (signed form) and checksum.
    fn end_trailer(&mut self) -> Result<(), StdError> {
        let text = std::str::from_utf8(&self.trailer).map_err(|_| Self::bad("trailer"))?;
        let mut lines = Vec::new();
        let mut signature = None;
        for l in text.split("\r\n").filter(|l| !l.is_empty()) {
            let (name, value) = l.split_once(':').ok_or_else(|| Self::bad("trailer line"))?;
            let name = name.trim().to_ascii_lowercase();
            if name == "x-amz-trailer-signature" {
                signature = Some(value.trim().to_owned());
            } else {
                lines.push((name, value.trim().to_owned()));
            }
        }
        if let ChunkSigning::Signed { key, auth } = &self.signing
            && auth.payload_kind() == Some(tessera_sigv4::PayloadKind::StreamingSignedTrailer)
        {
            let sent = signature.ok_or_else(|| Self::bad("missing x-amz-trailer-signature"))?;
            let mut sent_b = [0u8; 32];
            hex::decode_to_slice(&sent, &mut sent_b)
                .map_err(|_| Self::bad("x-amz-trailer-signature"))?;
            let mut canon = String::new();
            for (n, v) in &lines {
                canon.push_str(n);
                canon.push(':');
                canon.push_str(v);
                canon.push('\n');
            }
            let hash: [u8; 32] = Sha256::digest(canon.as_bytes()).into();
            let want = tessera_sigv4::trailer_signature(key, auth, &self.previous, &hash);
            if !tessera_sigv4::signatures_equal(&want, &sent_b) {
                return Err(Self::signature_mismatch());
            }
        }
        if let (Some(algo), Some(h)) = (self.trailer_algo, self.sums.take()) {
            let got = h.finalize();
            let sent = lines
                .iter()
                .find(|(n, _)| n == algo.header())
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| {
                    s3err(
                        S3ErrorCode::InvalidRequest,
                        format!(
                            "The trailer {} announced by x-amz-trailer is missing.",
                            algo.header()
                        ),
                    )
                })?;
            if algo.pick(&got) != Some(sent) {
                return Err(s3err(
                    S3ErrorCode::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        algo.header()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Advance over buffered input; `Some(data)` to emit, `None` when more input is needed.
    fn step(&mut self) -> Result<Option<Bytes>, StdError> {
        loop {
            match self.state {
                State::Header => match self.line()? {
                    Some(l) => self.header(&l)?,
                    None => return Ok(None),
                },
                State::Data { left } => {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    let n = (left.min(self.buf.len() as u64)) as usize;
                    let data = self.buf.split_to(n).freeze();
                    self.chunk_hash.update(&data);
                    if let Some(h) = &mut self.sums {
                        h.update(&data);
                    }
                    self.state = if left == n as u64 {
                        State::DataEnd
                    } else {
                        State::Data {
                            left: left - n as u64,
                        }
                    };
                    return Ok(Some(data));
                }
                State::DataEnd => {
                    if self.buf.len() < 2 {
                        return Ok(None);
                    }
                    if &self.buf[..2] != b"\r\n" {
                        return Err(Self::bad("chunk data not followed by CRLF"));
                    }
                    self.buf.advance(2);
                    self.end_chunk()?;
                    self.state = State::Header;
                }
                State::Trailer => match self.line()? {
                    Some(l) if l.is_empty() => {
                        self.end_trailer()?;
                        self.state = State::Done;
                    }
                    Some(l) => {
                        self.trailer.extend_from_slice(&l);
                        self.trailer.extend_from_slice(b"\r\n");
                        if self.trailer.len() > MAX_TRAILER {
                            return Err(Self::bad("trailer too long"));
                        }
                    }
                    None if self.eof && self.buf.is_empty() => {
                        // Some clients end the body right after the last trailer line.
                        self.end_trailer()?;
                        self.state = State::Done;
                    }
                    None => return Ok(None),
                },
                State::Done => {
                    if !self.buf.iter().all(|b| *b == b'\r' || *b == b'\n') {
                        return Err(Self::bad("data after the final chunk"));
                    }
                    self.buf.clear();
                    return Ok(None);
                }
            }
        }
    }
}

fn memchr_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

impl Stream for AwsChunked {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.failed {
                return Poll::Ready(None);
            }
            match this.step() {
                Err(e) => {
                    this.failed = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Ok(Some(data)) => return Poll::Ready(Some(Ok(data))),
                Ok(None) => {}
            }
            if matches!(this.state, State::Done) && this.eof {
                return Poll::Ready(None);
            }
            if this.eof {
                this.failed = true;
                return Poll::Ready(Some(Err(Self::bad(
                    "the body ended before its final chunk",
                ))));
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(b))) => this.buf.extend_from_slice(&b),
                Poll::Ready(Some(Err(e))) => {
                    this.failed = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => this.eof = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn stream_of(parts: Vec<&'static [u8]>) -> ByteStream {
        Box::pin(futures::stream::iter(
            parts.into_iter().map(|p| Ok(Bytes::from_static(p))),
        ))
    }

    async fn collect(
        mut s: impl Stream<Item = Result<Bytes, StdError>> + Unpin,
    ) -> Result<Vec<u8>, S3Error> {
        let mut out = Vec::new();
        while let Some(b) = s.next().await {
            out.extend_from_slice(&b.map_err(stream_error)?);
        }
        Ok(out)
    }

    /// AWS's worked example for `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` (S3 API reference,
    /// "Signature calculations for the Authorization header: transferring payload in multiple
    /// chunks"): 65 KiB of `a` in chunks of 64 KiB and 1 KiB.
    fn aws_example() -> (ParsedAuth, [u8; 32]) {
        let date = chrono::DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut sig = [0u8; 32];
        hex::decode_to_slice(
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
            &mut sig,
        )
        .unwrap();
        let auth = ParsedAuth {
            kind: tessera_sigv4::AuthKind::Header,
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            date,
            scope_date: "20130524".into(),
            region: "us-east-1".into(),
            service: "s3".into(),
            signed_headers: vec![],
            signature: sig,
            security_token: None,
            expires: None,
            content_sha256: Some(tessera_sigv4::STREAMING_PAYLOAD.into()),
        };
        let key = tessera_sigv4::signing_key(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "20130524",
            "us-east-1",
            "s3",
        );
        (auth, key)
    }

    #[test]
    fn chunk_signatures_match_the_aws_example() {
        let (auth, key) = aws_example();
        let h1: [u8; 32] = Sha256::digest(vec![b'a'; 65536]).into();
        let s1 = tessera_sigv4::chunk_signature(&key, &auth, &auth.signature_hex(), &h1);
        assert_eq!(
            hex::encode(s1),
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        );
        let h2: [u8; 32] = Sha256::digest(vec![b'a'; 1024]).into();
        let s2 = tessera_sigv4::chunk_signature(&key, &auth, &hex::encode(s1), &h2);
        assert_eq!(
            hex::encode(s2),
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
        );
        let h3: [u8; 32] = Sha256::digest(b"").into();
        let s3 = tessera_sigv4::chunk_signature(&key, &auth, &hex::encode(s2), &h3);
        assert_eq!(
            hex::encode(s3),
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
        );
    }

    fn example_body(tamper: bool) -> Vec<u8> {
        let (auth, key) = aws_example();
        let mut body = Vec::new();
        let mut prev = auth.signature_hex();
        for len in [65536usize, 1024, 0] {
            let data = vec![b'a'; len];
            let h: [u8; 32] = Sha256::digest(&data).into();
            let s = hex::encode(tessera_sigv4::chunk_signature(&key, &auth, &prev, &h));
            body.extend_from_slice(format!("{len:x};chunk-signature={s}\r\n").as_bytes());
            let mut data = data;
            if tamper && len == 1024 {
                data[3] = b'b';
            }
            body.extend_from_slice(&data);
            body.extend_from_slice(b"\r\n");
            prev = s;
        }
        body
    }

    async fn decode(body: Vec<u8>, split: usize) -> Result<Vec<u8>, S3Error> {
        let (auth, key) = aws_example();
        let parts: Vec<Result<Bytes, StdError>> = body
            .chunks(split)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let s = AwsChunked::new(
            Box::pin(futures::stream::iter(parts)),
            ChunkSigning::Signed {
                key,
                auth: Box::new(auth),
            },
            None,
        );
        collect(s).await
    }

    #[tokio::test]
    async fn signed_chunks_decode_at_any_split_and_a_changed_byte_fails() {
        for split in [1usize, 7, 4096, 1 << 20] {
            let out = decode(example_body(false), split).await.unwrap();
            assert_eq!(out, vec![b'a'; 66560], "split {split}");
        }
        let e = decode(example_body(true), 1000).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::SignatureDoesNotMatch);
        // Truncated: the final chunk never comes.
        let mut short = example_body(false);
        short.truncate(66000);
        let e = decode(short, 4096).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::IncompleteBody);
    }

    #[tokio::test]
    async fn unsigned_trailer_checksum_is_verified() {
        let crc = base64::engine::general_purpose::STANDARD
            .encode(s3s::crypto::Crc32::checksum(b"hello world"));
        let good = format!("b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n");
        let s = AwsChunked::new(
            stream_of(vec![Box::leak(good.into_bytes().into_boxed_slice())]),
            ChunkSigning::Unsigned,
            Some(ChecksumAlgo::Crc32),
        );
        assert_eq!(collect(s).await.unwrap(), b"hello world");
        let bad = "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
        let s = AwsChunked::new(
            stream_of(vec![bad.as_bytes()]),
            ChunkSigning::Unsigned,
            Some(ChecksumAlgo::Crc32),
        );
        assert_eq!(
            *collect(s).await.unwrap_err().code(),
            S3ErrorCode::BadDigest
        );
    }

    #[tokio::test]
    async fn checked_bodies_fail_before_their_end() {
        let expect = Expect {
            md5: Some(s3s::crypto::Md5::checksum(b"abc")),
            ..Default::default()
        };
        let ok = Checked::new(stream_of(vec![b"a", b"bc"]), expect.clone());
        assert_eq!(collect(ok).await.unwrap(), b"abc");
        let bad = Checked::new(stream_of(vec![b"a", b"bd"]), expect);
        assert_eq!(
            *collect(bad).await.unwrap_err().code(),
            S3ErrorCode::BadDigest
        );
        let mut want = [0u8; 32];
        want.copy_from_slice(&Sha256::digest(b"abc"));
        let bad = Checked::new(
            stream_of(vec![b"abd"]),
            Expect {
                sha256: Some(want),
                ..Default::default()
            },
        );
        let e = collect(bad).await.unwrap_err();
        assert_eq!(e.code().as_str(), "XAmzContentSHA256Mismatch");
        let short = Checked::new(
            stream_of(vec![b"ab"]),
            Expect {
                length: Some(3),
                ..Default::default()
            },
        );
        assert_eq!(
            *collect(short).await.unwrap_err().code(),
            S3ErrorCode::IncompleteBody
        );
    }
}
