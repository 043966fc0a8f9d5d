//! One way in: a test-only service of each REST kind (restJson at fixed routes, restXml under
//! a path, a bearer-token API) is registered with one `register` call each and served by the
//! pipeline — routing, signing, errors, audit source and metrics — from its declaration
//! alone. A tidy check keeps service and operation names out of the pipeline's source.

mod common;

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use serde_json::json;
use std::sync::Arc;
use std::time::SystemTime;
use tessera_audit::EventDetails;
use tessera_service::{Body, Ctx, Reply, RestRoute, Routing, Service, ServiceSpec};
use tessera_wire::{AwsError, CommonError, Protocol};

#[derive(Debug, thiserror::Error)]
enum TestError {
    #[error(transparent)]
    Common(#[from] CommonError),
    #[error("{0}")]
    Own(&'static str, &'static str, u16),
}

fn render(e: &TestError, protocol: Protocol) -> AwsError {
    match e {
        TestError::Common(c) => c.to_aws(protocol),
        TestError::Own(code, message, status) => AwsError::new(*status, *code, *message),
    }
}

fn read_only() -> EventDetails {
    EventDetails {
        read_only: true,
        ..EventDetails::default()
    }
}

// ---------------------------------------------------------------- restJson at fixed routes

tessera_service::operations! {
    enum EchoOp { Echo, Status }
}

static ECHO: ServiceSpec = ServiceSpec {
    name: "echo",
    signing_names: &["echo"],
    protocol: Protocol::RestJson,
    event_source: "echo.tessera.test",
    routing: Routing::RestJson {
        routes: &[
            RestRoute {
                method: "POST",
                path: "/echo",
                query_flag: Some("loud"),
                operation: "Echo",
            },
            RestRoute {
                method: "POST",
                path: "/echo/status",
                query_flag: None,
                operation: "Status",
            },
        ],
    },
};

#[derive(Debug)]
struct EchoService;

#[async_trait]
impl Service for EchoService {
    type Op = EchoOp;
    type Error = TestError;

    fn spec(&self) -> &'static ServiceSpec {
        &ECHO
    }

    async fn call(&self, op: EchoOp, ctx: &Ctx<'_>) -> Result<Reply, TestError> {
        let doc = ctx.input.json.cloned().unwrap_or_default();
        match op {
            EchoOp::Echo => {
                if doc["Say"].is_null() {
                    return Err(TestError::Own("InvalidRequestException", "Say what?", 400));
                }
                Ok(Reply {
                    body: Body::Json(json!({
                        "Said": doc["Say"],
                        "Caller": ctx.caller().map(|c| c.arn("aws")),
                    })),
                    details: EventDetails {
                        request_parameters: doc,
                        ..read_only()
                    },
                })
            }
            EchoOp::Status => Ok(Reply {
                body: Body::Json(json!({"Status": "fine"})),
                details: read_only(),
            }),
        }
    }

    fn to_aws(&self, e: &TestError) -> AwsError {
        render(e, ECHO.protocol)
    }
}

// ---------------------------------------------------------------- restXml under a path

tessera_service::operations! {
    /// `DeleteItem` carries the item its path names.
    enum ShelfOp { ListItems, DeleteItem { item: String }, Restock }
}

static SHELF: ServiceSpec = ServiceSpec {
    name: "shelf",
    signing_names: &["shelf"],
    protocol: Protocol::RestXmlWrapped,
    event_source: "shelf.tessera.test",
    routing: Routing::RestXml {
        prefix: "/shelf-v1/",
    },
};

#[derive(Debug)]
struct ShelfService;

#[async_trait]
impl Service for ShelfService {
    type Op = ShelfOp;
    type Error = TestError;

    fn spec(&self) -> &'static ServiceSpec {
        &SHELF
    }

    fn rest_operation(&self, method: &http::Method, path: &str) -> Option<ShelfOp> {
        let rest = path.strip_prefix("/shelf-v1/")?;
        match (
            method.as_str(),
            rest.split('/').collect::<Vec<_>>().as_slice(),
        ) {
            ("GET", ["items"]) => Some(ShelfOp::ListItems),
            ("DELETE", ["items", item]) => Some(ShelfOp::DeleteItem {
                item: (*item).to_owned(),
            }),
            ("POST", ["restock"]) => Some(ShelfOp::Restock),
            _ => None,
        }
    }

    fn check(&self, parts: &http::request::Parts) -> Result<(), TestError> {
        match parts.headers.get("x-shelf-owner") {
            Some(_) => Ok(()),
            None => Err(TestError::Own(
                "InvalidRequest",
                "Missing required header for this request: x-shelf-owner",
                400,
            )),
        }
    }

    async fn call(&self, op: ShelfOp, _ctx: &Ctx<'_>) -> Result<Reply, TestError> {
        match op {
            ShelfOp::ListItems => Ok(Reply {
                body: Body::Xml("<ListItemsResult><Item>jam</Item></ListItemsResult>".into()),
                details: read_only(),
            }),
            ShelfOp::DeleteItem { item } => Ok(Reply {
                body: Body::NoContent,
                details: EventDetails {
                    request_parameters: json!({ "item": item }),
                    ..EventDetails::default()
                },
            }),
            ShelfOp::Restock => {
                Err(CommonError::AccessDenied("No restocking today.".into()).into())
            }
        }
    }

    fn to_aws(&self, e: &TestError) -> AwsError {
        render(e, SHELF.protocol)
    }
}

// ---------------------------------------------------------------- a bearer-token API

tessera_service::operations! {
    #[derive(Copy)]
    enum TicketOp { Whoami [unsigned], Unknown [unsigned] }
}

static TICKETS: ServiceSpec = ServiceSpec {
    name: "tickets",
    signing_names: &[],
    protocol: Protocol::Scim,
    event_source: "tickets.tessera.test",
    routing: Routing::Bearer {
        claims: |path| path.starts_with("/tickets/"),
    },
};

#[derive(Debug)]
struct TicketService;

#[async_trait]
impl Service for TicketService {
    type Op = TicketOp;
    type Error = TestError;

    fn spec(&self) -> &'static ServiceSpec {
        &TICKETS
    }

    fn rest_operation(&self, method: &http::Method, path: &str) -> Option<TicketOp> {
        Some(match (method.as_str(), path) {
            ("GET", "/tickets/me") => TicketOp::Whoami,
            _ => TicketOp::Unknown,
        })
    }

    async fn call(&self, op: TicketOp, ctx: &Ctx<'_>) -> Result<Reply, TestError> {
        if ctx.input.bearer != Some("open-sesame") {
            return Err(TestError::Own(
                "UnauthorizedException",
                "The bearer token is not valid.",
                401,
            ));
        }
        if op == TicketOp::Unknown {
            return Err(TestError::Own(
                "ResourceNotFoundException",
                "No such thing.",
                404,
            ));
        }
        let mut resp = http::Response::new(Bytes::from(json!({"me": "ticket-holder"}).to_string()));
        *resp.status_mut() = http::StatusCode::CREATED;
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/scim+json"),
        );
        Ok(Reply {
            body: Body::Http(resp),
            details: read_only(),
        })
    }

    fn to_aws(&self, e: &TestError) -> AwsError {
        render(e, TICKETS.protocol)
    }
}

// ---------------------------------------------------------------- requests

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn send(f: &Fixture, req: http::Request<Full<Bytes>>) -> Answer {
    let resp =
        tessera_server::app::handle(f.app.clone(), req, "127.0.0.1:5000".parse().unwrap()).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// How a request is canonicalised for signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Canon {
    /// Everything but S3: paths encoded twice and normalised.
    Standard,
    /// S3: paths encoded once, as sent; the payload hash in `x-amz-content-sha256`.
    S3,
    /// The payload hash header as S3 wants, with the standard path encoding (a mistake).
    StandardWithPayloadHeader,
}

/// Requests signed for one service, with one set of headers and one canonicalisation.
struct Signed<'a> {
    f: &'a Fixture,
    service: &'a str,
    headers: &'a [(&'a str, &'a str)],
    canon: Canon,
}

impl Signed<'_> {
    async fn send(&self, method: &str, uri: &str, body: &[u8]) -> Answer {
        let req = sigv4(
            self.f,
            self.service,
            method,
            uri,
            body,
            self.headers,
            self.canon,
        );
        send(self.f, req).await
    }
}

/// A request signed for `service`, as the SDKs sign.
#[allow(clippy::too_many_arguments)]
fn sigv4(
    f: &Fixture,
    service: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    extra: &[(&str, &str)],
    canon: Canon,
) -> http::Request<Full<Bytes>> {
    let mut headers: Vec<(String, String)> = vec![("host".into(), "127.0.0.1:4566".into())];
    headers.extend(extra.iter().map(|(k, v)| ((*k).into(), (*v).into())));
    let identity = Credentials::new(&f.key, &f.secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if canon != Canon::Standard {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    if canon == Canon::S3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("http://127.0.0.1:4566{uri}");
    let signable = SignableRequest::new(
        method,
        &url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in &headers {
        b = b.header(k, v);
    }
    for (k, v) in instructions.headers() {
        b = b.header(k, v);
    }
    b.body(Full::new(Bytes::copy_from_slice(body))).unwrap()
}

fn plain(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::Request<Full<Bytes>> {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

async fn kinds_fixture() -> Fixture {
    fixture_with_services(test_limits(), |_, r| {
        r.register(Arc::new(EchoService));
        r.register(Arc::new(ShelfService));
        r.register(Arc::new(TicketService));
    })
    .await
}

#[tokio::test]
async fn rest_json_routes_sign_and_render_by_declaration() {
    let f = kinds_fixture().await;
    let json_ct = [("content-type", "application/json")];
    let echo = Signed {
        f: &f,
        service: "echo",
        headers: &json_ct,
        canon: Canon::Standard,
    };
    let r = echo.send("POST", "/echo?loud=1", br#"{"Say":"hi"}"#).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/json");
    assert!(r.headers.contains_key("x-amzn-requestid"));
    assert_eq!(r.json()["Said"], "hi");
    assert_eq!(r.json()["Caller"], "arn:aws:iam::111111111111:root");
    // The route needs its query flag: without it the request is not this service's.
    let r = echo.send("POST", "/echo", br#"{"Say":"hi"}"#).await;
    assert_ne!(r.status, 200, "{}", r.body);
    // The service's own error, in restJson's shape.
    let r = echo.send("POST", "/echo?loud", b"{}").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.headers["x-amzn-errortype"], "InvalidRequestException");
    assert_eq!(r.json()["error"], "invalid_request");
    // Bad JSON, a signature for another service, no signature.
    let r = echo.send("POST", "/echo/status", b"{").await;
    assert_eq!(
        r.headers["x-amzn-errortype"], "SerializationException",
        "{}",
        r.body
    );
    let r = send(
        &f,
        sigv4(
            &f,
            "sts",
            "POST",
            "/echo/status",
            b"{}",
            &json_ct,
            Canon::Standard,
        ),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = send(&f, plain("POST", "/echo/status", &json_ct)).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.headers["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );
    let r = echo.send("POST", "/echo/status", b"").await;
    assert_eq!(r.json()["Status"], "fine");

    let records = f.records().await;
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r.event_source == "echo.tessera.test")
        .collect();
    assert_eq!(mine.len(), 6, "one record per request routed here");
    assert_eq!(mine[0].event_name, "Echo");
    assert_eq!(mine[0].request_parameters["Say"], "hi");
    assert!(mine[0].error_code.is_none());
    assert_eq!(
        mine[1].error_code.as_deref(),
        Some("InvalidRequestException")
    );
    let metrics = f.app.metrics.render();
    assert!(
        metrics.contains(r#"tessera_requests_total{service="echo",action="Echo",status="200"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"tessera_requests_total{service="echo",action="Status",status="200"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn rest_xml_under_a_path_checks_signs_and_renders_by_declaration() {
    let f = kinds_fixture().await;
    let owner = [("x-shelf-owner", "me")];
    let shelf = Signed {
        f: &f,
        service: "shelf",
        headers: &owner,
        canon: Canon::S3,
    };
    let r = shelf.send("GET", "/shelf-v1/items", b"").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/xml");
    assert!(r.headers.contains_key("x-amz-request-id"));
    assert!(r.body.contains("<Item>jam</Item>"));
    let r = shelf.send("DELETE", "/shelf-v1/items/jam", b"").await;
    assert_eq!(r.status, 204, "{}", r.body);
    // The service's check runs before authentication: an unsigned request without the
    // header is answered InvalidRequest, in the wrapped restXml shape.
    let r = send(&f, plain("GET", "/shelf-v1/items", &[])).await;
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("<?xml"), "{}", r.body);
    assert!(
        r.body
            .contains("<ErrorResponse><Error><Code>InvalidRequest</Code>"),
        "{}",
        r.body
    );
    // Unsigned with the header: restXml's AccessDenied. A method and path the service does
    // not know: NotImplemented. A CommonError from the service: AccessDenied.
    let r = send(&f, plain("GET", "/shelf-v1/items", &owner)).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("<Code>AccessDenied</Code>"), "{}", r.body);
    let r = shelf.send("PUT", "/shelf-v1/nothing", b"").await;
    assert_eq!(r.status, 501, "{}", r.body);
    assert!(r.body.contains("<Code>NotImplemented</Code>"), "{}", r.body);
    let r = shelf.send("POST", "/shelf-v1/restock", b"").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("No restocking today."), "{}", r.body);
    // Signed for the service but with the standard (double-encoding) canonicalisation of a
    // path that differs under it: refused by the one verifier.
    let r = send(
        &f,
        sigv4(
            &f,
            "shelf",
            "DELETE",
            "/shelf-v1/items/a%20b",
            b"",
            &owner,
            Canon::StandardWithPayloadHeader,
        ),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("SignatureDoesNotMatch"), "{}", r.body);

    let records = f.records().await;
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r.event_source == "shelf.tessera.test")
        .collect();
    assert_eq!(mine.len(), 7);
    let names: Vec<_> = mine.iter().map(|r| r.event_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ListItems",
            "DeleteItem",
            "ListItems",
            "ListItems",
            "Unknown",
            "Restock",
            "DeleteItem"
        ]
    );
    // The typed operation carried the item its path named to the service.
    assert_eq!(mine[1].request_parameters, json!({ "item": "jam" }));
    let metrics = f.app.metrics.render();
    assert!(
        metrics.contains(
            r#"tessera_requests_total{service="shelf",action="ListItems",status="200"} 1"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_bearer_api_checks_its_own_token_and_shapes_its_answers() {
    let f = kinds_fixture().await;
    let r = send(
        &f,
        plain(
            "GET",
            "/tickets/me",
            &[("authorization", "Bearer open-sesame")],
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/scim+json");
    assert!(r.headers.contains_key("x-amzn-requestid"));
    assert_eq!(r.json()["me"], "ticket-holder");
    // No token, a wrong one: the service answers, in its protocol's error shape.
    for auth in [None, Some("Bearer nope")] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let r = send(&f, plain("GET", "/tickets/me", &headers)).await;
        assert_eq!(r.status, 401, "{}", r.body);
        let v = r.json();
        assert_eq!(v["schemas"][0], tessera_wire::SCIM_ERROR_SCHEMA);
        assert_eq!(v["status"], "401");
        assert_eq!(v["detail"], "The bearer token is not valid.");
    }
    let r = send(
        &f,
        plain(
            "GET",
            "/tickets/else",
            &[("authorization", "Bearer open-sesame")],
        ),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // A bearer token for a path no bearer API claims is not this service's (S3 answers).
    let r = send(
        &f,
        plain(
            "GET",
            "/bucket/key",
            &[("authorization", "Bearer open-sesame")],
        ),
    )
    .await;
    assert!(r.body.contains("<Error>"), "{}", r.body);

    let records = f.records().await;
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r.event_source == "tickets.tessera.test")
        .collect();
    assert_eq!(mine.len(), 4);
    assert_eq!(mine[0].event_name, "Whoami");
    assert_eq!(mine[1].error_code.as_deref(), Some("UnauthorizedException"));
    assert_eq!(mine[3].event_name, "Unknown");
    let metrics = f.app.metrics.render();
    assert!(
        metrics.contains(
            r#"tessera_requests_total{service="tickets",action="Whoami",status="201"} 1"#
        ),
        "{metrics}"
    );
}

/// The pipeline and its protocol adapters route by declarations: no registered service's
/// name or operation appears in them as a string.
#[tokio::test]
async fn the_pipeline_names_no_service_or_operation() {
    let f = fixture().await;
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("pipeline.rs")];
    for e in std::fs::read_dir(src.join("protocols")).unwrap() {
        files.push(e.unwrap().path());
    }
    let mut names: Vec<String> = Vec::new();
    let fallback = f
        .app
        .services
        .fallback()
        .expect("S3 is the registered fallback");
    let specs = f.app.services.services().iter().map(|s| s.spec());
    for spec in specs.chain([fallback.spec()]) {
        names.push(spec.name.to_owned());
        names.extend(spec.signing_names.iter().map(|n| (*n).to_owned()));
        names.push(spec.event_source.to_owned());
    }
    // Every operation of every service: the registry answers for names it knows.
    let candidates = [
        "CreateTokenWithIAM",
        "GetCallerIdentity",
        "AssumeRole",
        "CreateRole",
        "ListUsers",
        "GetDataAccess",
        "GetIssuerDocument",
        "CreateUser",
        "PatchUser",
        "ListInstances",
    ];
    for c in candidates {
        if f.app
            .services
            .services()
            .iter()
            .any(|s| s.operation(c).is_some())
        {
            names.push(c.to_owned());
        }
    }
    // The fallback's operations are named by its codec, not declared.
    names.extend(["GetObject", "HeadObject", "PutObject"].map(str::to_owned));
    assert!(names.len() > 20, "{names:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for krate in [
            "tessera_s3",
            "tessera_iam",
            "tessera_sts",
            "tessera_identity_center",
            "tessera_access_grants",
        ] {
            assert!(
                !text.contains(krate),
                "{} names the service crate {krate}",
                file.display()
            );
        }
        for n in &names {
            let quoted = format!("\"{n}\"");
            assert!(
                !text.contains(&quoted),
                "{} names {quoted}: the pipeline must route by declarations",
                file.display()
            );
        }
    }
}
