//! Shared by the server's integration tests: an in-process [`App`] on a scratch SQLite store
//! with the dev accounts, and requests signed the way botocore signs them.

#![allow(dead_code)]

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;
use tessera_audit::MemorySink;
use tessera_core::Deployment;
use tessera_crypto::MasterKey;
use tessera_server::app::{App, AppParts, handle};
use tessera_server::config::Limits;
use tessera_server::setup;

pub struct Fixture {
    pub app: Arc<App>,
    pub audit: Arc<MemorySink>,
    pub key: String,
    pub secret: String,
    _dir: tempfile::TempDir,
}

/// The limits the bad-input tests run with.
pub fn test_limits() -> Limits {
    Limits {
        max_body_bytes: 64 * 1024,
        max_header_bytes: 8 * 1024,
        max_connections: 16,
        ..Limits::default()
    }
}

pub async fn fixture() -> Fixture {
    fixture_with(test_limits()).await
}

pub async fn fixture_with(limits: Limits) -> Fixture {
    fixture_with_services(limits, |_, _| {}).await
}

/// A fixture whose app also registers the services `extra` adds.
pub async fn fixture_with_services(
    limits: Limits,
    extra: impl FnOnce(&tessera_server::app::Kernel, &mut tessera_service::Registry),
) -> Fixture {
    fixture_full(limits, extra, None, Default::default()).await
}

/// A sink whose every write fails (an unwritable audit trail).
#[derive(Debug)]
pub struct BrokenSink;

impl tessera_audit::AuditSink for BrokenSink {
    fn write(&self, _: &[tessera_audit::AuditRecord]) -> Result<(), tessera_audit::AuditError> {
        Err(tessera_audit::AuditError::Io(std::io::Error::other(
            "the disk is full",
        )))
    }
}

/// A fixture whose audit records go to `sink` (else the fixture's memory sink) under `policy`.
pub async fn fixture_with_audit(
    sink: Arc<dyn tessera_audit::AuditSink>,
    policy: tessera_audit::AuditPolicy,
) -> Fixture {
    fixture_full(test_limits(), |_, _| {}, Some(sink), policy).await
}

async fn fixture_full(
    limits: Limits,
    extra: impl FnOnce(&tessera_server::app::Kernel, &mut tessera_service::Registry),
    sink: Option<Arc<dyn tessera_audit::AuditSink>>,
    audit_policy: tessera_audit::AuditPolicy,
) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = tessera_test_support::sqlite(dir.path(), "t.db").await;
    let master = MasterKey::generate();
    let keys = setup::ensure_dev_accounts(store.as_ref(), &master)
        .await
        .unwrap();
    let audit = Arc::new(MemorySink::default());
    let fetch = tessera_oidc::ReqwestFetch::new(tessera_oidc::FetchPolicy::dev()).unwrap();
    let oidc = Arc::new(tessera_oidc::OidcVerifier::new(
        Arc::new(fetch),
        tessera_oidc::VerifierConfig::default(),
    ));
    let app = Arc::new(
        App::build_with(
            AppParts {
                deployment: Deployment::default(),
                store,
                master,
                audit: tessera_audit::AuditQueue::start(
                    sink.unwrap_or_else(|| audit.clone()),
                    tessera_audit::DEFAULT_QUEUE_CAPACITY,
                ),
                audit_policy,
                limits,
                oidc,
                allow_http_issuers: true,
                public_url: "http://127.0.0.1:1".into(),
                objects: Arc::new(
                    tessera_s3::FsBackend::open(dir.path().join("objects"))
                        .await
                        .unwrap(),
                ),
            },
            extra,
        )
        .await
        .unwrap(),
    );
    Fixture {
        app,
        audit,
        key: keys[0].1.clone(),
        secret: keys[0].2.expose().to_owned(),
        _dir: dir,
    }
}

impl Fixture {
    /// The audit records written so far (after the queue has written what it holds).
    pub async fn records(&self) -> Vec<tessera_audit::AuditRecord> {
        self.app.audit.flush().await;
        self.audit.records()
    }
}

pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn code(&self) -> String {
        let start = self.body.find("<Code>").map(|i| i + 6).unwrap_or(0);
        let end = self.body.find("</Code>").unwrap_or(0);
        self.body.get(start..end).unwrap_or("").to_owned()
    }
}

pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}

/// Sign a POST form request the way botocore does (content-type;host;x-amz-date).
pub fn signed(
    f: &Fixture,
    service: &str,
    body: Vec<u8>,
    time: SystemTime,
    extra: &[(&str, &str)],
) -> Request<Full<Bytes>> {
    signed_with(&f.key, &f.secret, service, body, time, extra, None)
}

pub fn signed_with(
    key: &str,
    secret: &str,
    service: &str,
    body: Vec<u8>,
    time: SystemTime,
    extra: &[(&str, &str)],
    token: Option<&str>,
) -> Request<Full<Bytes>> {
    let mut headers: Vec<(String, String)> = vec![("host".into(), "127.0.0.1:4566".into())];
    if !extra
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        ));
    }
    for (k, v) in extra {
        headers.push(((*k).into(), (*v).into()));
    }
    let identity = Credentials::new(key, secret, token.map(str::to_owned), None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "POST",
        "http://127.0.0.1:4566/",
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut b = Request::builder().method("POST").uri("/");
    for (k, v) in &headers {
        b = b.header(k, v);
    }
    for (k, v) in instructions.headers() {
        b = b.header(k, v);
    }
    b.body(Full::new(Bytes::from(body))).unwrap()
}

/// Send `req` through the pipeline as if it came from `peer`.
pub async fn send_from(f: &Fixture, req: Request<Full<Bytes>>, peer: SocketAddr) -> Reply {
    let resp = handle(f.app.clone(), req, peer).await;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

#[allow(unused_imports)]
pub use tessera_test_support::xml_value;
