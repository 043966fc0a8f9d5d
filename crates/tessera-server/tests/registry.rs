//! A service is one crate registered once: this test registers a minimal test-only service
//! (awsJson1.1, its own signing name and audit source) through `App::build_with` and shows
//! that routing, authentication, dispatch, error rendering, metrics and audit all follow its
//! declaration, with nothing else in the server changed.

mod common;

use async_trait::async_trait;
use common::*;
use serde_json::json;
use std::sync::Arc;
use std::time::SystemTime;
use tessera_audit::EventDetails;
use tessera_authz::{Access, Authorizer};
use tessera_policy::ContextKeys;
use tessera_service::{Body, Ctx, Reply, Routing, Service, ServiceSpec};
use tessera_wire::{AwsError, CommonError, Protocol};

tessera_service::operations! {
    /// The test service's operations.
    #[derive(Copy)]
    enum PingOp { Ping, Guarded, Anonymous [unsigned] }
}

static PING: ServiceSpec = ServiceSpec {
    name: "ping",
    signing_names: &["ping"],
    protocol: Protocol::Json11,
    event_source: "ping.tessera.test",
    routing: Routing::JsonTarget {
        prefix: "TesseraPing_20261201",
    },
};

#[derive(Debug, thiserror::Error)]
enum PingError {
    #[error(transparent)]
    Common(#[from] CommonError),
}

#[derive(Debug)]
struct PingService {
    authz: Authorizer,
}

#[async_trait]
impl Service for PingService {
    type Op = PingOp;
    type Error = PingError;

    fn spec(&self) -> &'static ServiceSpec {
        &PING
    }

    async fn call(&self, op: PingOp, ctx: &Ctx<'_>) -> Result<Reply, PingError> {
        let doc = ctx.input.json.cloned().unwrap_or_default();
        let body = match (op, ctx.caller()) {
            (PingOp::Ping, Some(c)) => json!({
                "Echo": doc["Message"],
                "Caller": c.arn("aws"),
            }),
            (PingOp::Guarded, Some(c)) => {
                // Decided by the kernel's authoriser, like every service's decisions.
                let access = Access {
                    action: "ping:Guarded",
                    resource: "arn:aws:ping:::thing",
                    resource_account: c.account.as_str(),
                    resource_policy: None,
                    extra: ContextKeys::new(),
                };
                self.authz
                    .check(c, ctx.meta, access)
                    .map_err(|d| CommonError::AccessDenied(d.message))?;
                json!({"Allowed": true})
            }
            (PingOp::Anonymous, None) => json!({"Anonymous": true}),
            _ => return Err(CommonError::InternalFailure.into()),
        };
        Ok(Reply {
            body: Body::Json(body),
            details: EventDetails {
                request_parameters: doc,
                read_only: true,
                ..EventDetails::default()
            },
        })
    }

    fn to_aws(&self, e: &PingError) -> AwsError {
        match e {
            PingError::Common(c) => c.to_aws(PING.protocol),
        }
    }
}

async fn ping_fixture() -> Fixture {
    fixture_with_services(test_limits(), |k, r| {
        r.register(Arc::new(PingService {
            authz: k.authz.clone(),
        }));
    })
    .await
}

fn ping_request(
    f: &Fixture,
    op: &str,
    body: &str,
    service: &str,
) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    let target = format!("TesseraPing_20261201.{op}");
    signed_with(
        &f.key,
        &f.secret,
        service,
        body.as_bytes().to_vec(),
        SystemTime::now(),
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &target),
        ],
        None,
    )
}

fn peer() -> std::net::SocketAddr {
    "127.0.0.1:5000".parse().unwrap()
}

#[tokio::test]
async fn a_registered_service_is_routed_authenticated_dispatched_and_audited() {
    let f = ping_fixture().await;
    let r = send_from(
        &f,
        ping_request(&f, "Ping", r#"{"Message":"hi"}"#, "ping"),
        peer(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["Echo"], "hi");
    assert_eq!(v["Caller"], "arn:aws:iam::111111111111:root");

    // The kernel's authoriser decides; the root of the account may.
    let r = send_from(&f, ping_request(&f, "Guarded", "{}", "ping"), peer()).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Signed for another service's name: refused by the one verifier.
    let r = send_from(&f, ping_request(&f, "Ping", "{}", "sts"), peer()).await;
    assert_eq!(r.status, 403, "{}", r.body);

    // An operation the service does not declare, and one that needs no signature.
    let r = send_from(&f, ping_request(&f, "Nope", "{}", "ping"), peer()).await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["__type"], "UnknownOperationException", "{}", r.body);
    let unsigned = http::Request::builder()
        .method("POST")
        .uri("/")
        .header("x-amz-target", "TesseraPing_20261201.Anonymous")
        .header("content-type", "application/x-amz-json-1.1")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
        .unwrap();
    let r = send_from(&f, unsigned, peer()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let unsigned_ping = http::Request::builder()
        .method("POST")
        .uri("/")
        .header("x-amz-target", "TesseraPing_20261201.Ping")
        .header("content-type", "application/x-amz-json-1.1")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
        .unwrap();
    let r = send_from(&f, unsigned_ping, peer()).await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(v["__type"], "MissingAuthenticationTokenException");

    // Audit and metrics read the declaration: event source, operation names, service name.
    let records = f.records().await;
    let pings: Vec<_> = records
        .iter()
        .filter(|r| r.event_source == "ping.tessera.test")
        .collect();
    assert_eq!(pings.len(), 6, "one record per request");
    assert_eq!(pings[0].event_name, "Ping");
    assert_eq!(pings[0].request_parameters["Message"], "hi");
    assert!(pings[0].error_code.is_none());
    assert!(
        pings[2].error_code.is_some(),
        "the wrongly scoped request is recorded as failed"
    );
    let metrics = f.app.metrics.render();
    assert!(
        metrics.contains(r#"tessera_requests_total{service="ping",action="Ping",status="200"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn errors_render_in_the_services_protocol() {
    let f = ping_fixture().await;
    // An IAM user with no policies: the authoriser denies, and the JSON protocol says so in
    // its own vocabulary (AccessDeniedException, not awsQuery's AccessDenied).
    let create = |pairs: &[(&str, &str)]| signed(&f, "iam", form(pairs), SystemTime::now(), &[]);
    let r = send_from(
        &f,
        create(&[
            ("Action", "CreateUser"),
            ("UserName", "nobody"),
            ("Version", "2010-05-08"),
        ]),
        peer(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send_from(
        &f,
        create(&[
            ("Action", "CreateAccessKey"),
            ("UserName", "nobody"),
            ("Version", "2010-05-08"),
        ]),
        peer(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let key = xml_value(&r.body, "AccessKeyId").unwrap();
    let secret = xml_value(&r.body, "SecretAccessKey").unwrap();
    let req = signed_with(
        &key,
        &secret,
        "ping",
        b"{}".to_vec(),
        SystemTime::now(),
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "TesseraPing_20261201.Guarded"),
        ],
        None,
    );
    let r = send_from(&f, req, peer()).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["__type"], "AccessDeniedException");
    assert!(v["Message"].as_str().unwrap().contains("ping:Guarded"));
}
