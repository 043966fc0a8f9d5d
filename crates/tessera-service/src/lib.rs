//! The service port: what a service crate declares and implements so the server can route,
//! authenticate, dispatch, meter and audit its requests without knowing it.
//!
//! A service implements [`Service`]: a static [`ServiceSpec`] (signing names, wire protocol,
//! audit event source, how its requests are recognised), a typed [`Operation`] enum (written
//! with [`operations!`]), one `call` per request with a [`Ctx`], and one place that renders
//! its errors ([`Service::to_aws`]). The composition root registers each service once in a
//! [`Registry`]; routing, dispatch, metrics and audit read the declarations from there.
//!
//! A service whose bodies are streams of any size (S3's REST API) implements [`Streaming`]
//! instead ([`stream`]) and is registered as the fallback: it serves what no declaration
//! claims.

pub mod stream;

pub use stream::{ByteStream, Signature, StreamBody, StreamCall, StreamReply, Streaming};

use async_trait::async_trait;
use bytes::Bytes;
use std::fmt::Debug;
use std::sync::Arc;
use tessera_audit::EventDetails;
use tessera_core::{Caller, RequestMeta};
use tessera_wire::query::QueryParams;
use tessera_wire::{AwsError, Protocol};

/// How the server recognises a service's requests, and how it authenticates them: the one
/// declaration the pipeline routes by. The pipeline tries them in a fixed order (an
/// `X-Amz-Target`, a path prefix of a REST API, a fixed REST route, an unsigned document, a
/// bearer token, awsQuery at `/`); a request none of them claims is the fallback's.
#[derive(Debug, Clone, Copy)]
pub enum Routing {
    /// awsQuery at `/` with an `Action`: the service whose signing name the credential scope
    /// names, or (for a request whose signature cannot be read) the one that knows the action.
    /// SigV4, standard canonicalisation.
    Query {
        /// The API version requests may name (`Version=`).
        version: &'static str,
    },
    /// awsJson1.1 with `X-Amz-Target: {prefix}.{Operation}`. SigV4, standard
    /// canonicalisation (unsigned operations carry their own token).
    JsonTarget { prefix: &'static str },
    /// restJson1 at fixed routes (sso-oidc's `POST /token?aws_iam=t`): each route names its
    /// operation. SigV4, standard canonicalisation.
    RestJson { routes: &'static [RestRoute] },
    /// A restXml API under a path prefix of its own (s3control's `/v20180820/`), whatever the
    /// Host; the service names the operation from the method and path
    /// ([`Service::rest_operation`]) and may check the request first ([`Service::check`]).
    /// SigV4, S3 canonicalisation.
    RestXml { prefix: &'static str },
    /// A bearer-token API (SCIM): requests for a path `claims` that carry
    /// `Authorization: Bearer …` or no signature at all (a missing token is answered by the
    /// service). The service checks the token ([`Input::bearer`]) and names the operation
    /// from the method and path.
    Bearer { claims: fn(&str) -> bool },
    /// Unsigned requests under a path prefix (a token issuer's discovery and keys); the
    /// service names the operation from the method and path.
    Unsigned { prefix: &'static str },
    /// Every request no other declaration claims, as a stream (S3's REST API, whose bucket
    /// and key may be any path, in the Host or not): a [`Streaming`] service, registered
    /// with [`Registry::register_stream`]. SigV4, S3 canonicalisation, the payload checked
    /// by the service while it streams.
    Fallback,
}

/// One fixed route of a [`Routing::RestJson`] service.
#[derive(Debug, Clone, Copy)]
pub struct RestRoute {
    pub method: &'static str,
    /// The whole path.
    pub path: &'static str,
    /// A query parameter the request must carry (`aws_iam`), if any.
    pub query_flag: Option<&'static str>,
    /// The operation's wire name.
    pub operation: &'static str,
}

impl RestRoute {
    /// Whether a request is for this route.
    pub fn matches(&self, method: &http::Method, path: &str, query: &str) -> bool {
        method.as_str() == self.method
            && path == self.path
            && self
                .query_flag
                .is_none_or(|flag| query.split('&').any(|p| p.split('=').next() == Some(flag)))
    }
}

/// What a service declares about itself, once.
#[derive(Debug)]
pub struct ServiceSpec {
    /// Its name in metrics and logs (`iam`, `sts`).
    pub name: &'static str,
    /// Credential-scope service names its requests may be signed for.
    pub signing_names: &'static [&'static str],
    /// The wire protocol of its requests, responses and errors.
    pub protocol: Protocol,
    /// The audit record's `eventSource`.
    pub event_source: &'static str,
    pub routing: Routing,
}

/// A service's typed operations: one value per request, carrying the parameters its route
/// parses (Garage's per-API `Endpoint` is the model). Write the enum, and this impl, with
/// [`operations!`].
pub trait Operation: Clone + Debug + Send + Sync + Sized + 'static {
    /// Every operation's wire name, in declaration order.
    const NAMES: &'static [&'static str];
    /// The operation's wire name (`CreateRole`).
    fn name(&self) -> &'static str;
    /// The operation a wire name denotes, when it carries no parameters of its own (the
    /// others come from their route: [`Service::rest_operation`]).
    fn from_name(name: &str) -> Option<Self>;
    /// Whether requests for the operation named `name` must be signed (false: the request
    /// carries its own token, as `AssumeRoleWithWebIdentity` does).
    fn signed_name(_name: &str) -> bool {
        true
    }
    /// Whether Tessera implements the operation named `name` (false: AWS defines it, and the
    /// service answers that it is not available).
    fn implemented_name(_name: &str) -> bool {
        true
    }
    fn signed(&self) -> bool {
        Self::signed_name(self.name())
    }
    fn implemented(&self) -> bool {
        Self::implemented_name(self.name())
    }
}

/// Declare a service's typed operations: an enum whose variants are the wire names, each
/// carrying the parameters its route parses (a REST path's ids; none for operations whose
/// parameters are the decoded body), with its [`Operation`] impl. A variant may be marked
/// `[unsigned]` (the request carries its own token) and `[missing]` (AWS defines it; Tessera
/// answers that it is not available).
///
/// ```
/// tessera_service::operations! {
///     /// Things the example service does.
///     pub enum ExampleOp {
///         Ping,
///         Get { id: String },
///         Hello [unsigned],
///         Teleport [missing],
///     }
/// }
/// use tessera_service::Operation;
/// assert_eq!("Ping".parse::<ExampleOp>(), Ok(ExampleOp::Ping));
/// assert_eq!(ExampleOp::Get { id: "7".into() }.name(), "Get");
/// assert_eq!(ExampleOp::from_name("Get"), None, "its id comes from the route");
/// assert_eq!(ExampleOp::NAMES, &["Ping", "Get", "Hello", "Teleport"]);
/// assert!(!ExampleOp::signed_name("Hello") && ExampleOp::signed_name("Ping"));
/// assert!(!ExampleOp::implemented_name("Teleport"));
/// ```
#[macro_export]
macro_rules! operations {
    (@unit $name:ident $op:ident) => { Some($name::$op) };
    (@unit $name:ident $op:ident { $($field:ident)* }) => { None };
    (@has $flag:ident) => { false };
    (@has unsigned unsigned $($rest:ident)*) => { true };
    (@has missing missing $($rest:ident)*) => { true };
    (@has $flag:ident $other:ident $($rest:ident)*) => { $crate::operations!(@has $flag $($rest)*) };
    (
        $(#[$m:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vm:meta])*
                $op:ident $({ $($field:ident : $ty:ty),* $(,)? })? $([$($flag:ident),*])?
            ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vm])* $op $({ $($field: $ty),* })? ),*
        }

        impl $crate::Operation for $name {
            const NAMES: &'static [&'static str] = &[$(stringify!($op)),*];

            fn name(&self) -> &'static str {
                match self { $($name::$op { .. } => stringify!($op)),* }
            }

            fn from_name(name: &str) -> Option<Self> {
                match name {
                    $(stringify!($op) => $crate::operations!(@unit $name $op $({ $($field)* })?),)*
                    _ => None,
                }
            }

            fn signed_name(name: &str) -> bool {
                match name {
                    $(stringify!($op) => !$crate::operations!(@has unsigned $($($flag)*)?),)*
                    _ => true,
                }
            }

            fn implemented_name(name: &str) -> bool {
                match name {
                    $(stringify!($op) => !$crate::operations!(@has missing $($($flag)*)?),)*
                    _ => true,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::Operation::name(self))
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();
            /// An operation that carries no parameters, by its wire name.
            fn from_str(s: &str) -> Result<Self, ()> {
                <$name as $crate::Operation>::from_name(s).ok_or(())
            }
        }
    };
}

/// What the protocol layer decoded from a request, for the service.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub parts: &'a http::request::Parts,
    pub body: &'a Bytes,
    /// awsQuery parameters (query string and form body), for `Routing::Query` services.
    pub params: Option<&'a QueryParams>,
    /// The JSON body, for `Routing::JsonTarget` and `Routing::RestJson` services.
    pub json: Option<&'a serde_json::Value>,
    /// The bearer token, for `Routing::Bearer` services (they check it).
    pub bearer: Option<&'a str>,
}

impl<'a> Input<'a> {
    /// The awsQuery parameters (empty for other protocols).
    pub fn params(&self) -> &'a QueryParams {
        static EMPTY: std::sync::OnceLock<QueryParams> = std::sync::OnceLock::new();
        self.params
            .unwrap_or_else(|| EMPTY.get_or_init(QueryParams::default))
    }
}

/// Everything one request brings to a service's operation.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The authenticated caller; `None` only for operations that are not signed.
    pub caller: Option<&'a Caller>,
    pub meta: &'a RequestMeta,
    pub input: Input<'a>,
}

impl<'a> Ctx<'a> {
    /// The caller of a signed operation. The server authenticates every signed operation
    /// before calling it, so this fails only if a service marks an operation unsigned and
    /// then asks for its caller.
    pub fn caller(&self) -> Option<&'a Caller> {
        self.caller
    }

    pub fn params(&self) -> &'a QueryParams {
        self.input.params()
    }
}

/// A successful result, in the service's protocol.
#[derive(Debug)]
pub enum Body {
    /// awsQuery: the inner XML of `<{Operation}Result>` (the server wraps it).
    QueryResult(String),
    /// awsJson1.1: the response document.
    Json(serde_json::Value),
    /// restXml: the whole response document (200).
    Xml(String),
    /// No body (204).
    NoContent,
    /// A whole response the service shaped itself (status, content type, `Location`, …), for
    /// `Routing::Bearer` and `Routing::Unsigned` services; the server adds the request id.
    Http(http::Response<Bytes>),
}

/// What an operation returns: the body, and what the audit record should say.
#[derive(Debug)]
pub struct Reply {
    pub body: Body,
    pub details: EventDetails,
}

/// One service, implemented by a service crate.
#[async_trait]
pub trait Service: Send + Sync + Debug + 'static {
    type Op: Operation;
    type Error: std::error::Error + Send + Sync + 'static;

    fn spec(&self) -> &'static ServiceSpec;
    /// Handle one operation. For signed operations `ctx.caller` is set.
    async fn call(&self, op: Self::Op, ctx: &Ctx<'_>) -> Result<Reply, Self::Error>;
    /// The one place this service's errors meet the wire.
    fn to_aws(&self, e: &Self::Error) -> AwsError;
    /// For [`Routing::RestXml`], [`Routing::Bearer`] and [`Routing::Unsigned`] services: the
    /// operation a method and path denote.
    fn rest_operation(&self, _method: &http::Method, _path: &str) -> Option<Self::Op> {
        None
    }
    /// A check of the request before it is authenticated or its body read (s3control's
    /// account id): a failure is answered at once.
    fn check(&self, _parts: &http::request::Parts) -> Result<(), Self::Error> {
        Ok(())
    }
    /// What the audit record of a failed operation should say, when the service knows more
    /// than the pipeline (SCIM names the tenant whose token was checked).
    fn failure_details(&self, _e: &Self::Error) -> Option<EventDetails> {
        None
    }
}

/// A failed operation as the pipeline receives it: the error in the service's protocol, and
/// what its audit record should say if the service has something to add.
#[derive(Debug)]
pub struct Failed {
    pub error: AwsError,
    pub details: Option<EventDetails>,
}

impl From<AwsError> for Failed {
    fn from(error: AwsError) -> Failed {
        Failed {
            error,
            details: None,
        }
    }
}

/// An operation as the server sees it, whatever its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpInfo {
    pub name: &'static str,
    pub signed: bool,
    pub implemented: bool,
}

/// A registered service with its operation type erased, as the server holds it.
#[async_trait]
pub trait Registered: Send + Sync + Debug {
    fn spec(&self) -> &'static ServiceSpec;
    fn operation(&self, name: &str) -> Option<OpInfo>;
    /// The operation a REST method and path denote ([`Service::rest_operation`]).
    fn rest_operation(&self, method: &http::Method, path: &str) -> Option<OpInfo>;
    /// [`Service::check`], rendered.
    fn check(&self, parts: &http::request::Parts) -> Result<(), AwsError>;
    /// Handle the operation `name` (an [`OpInfo::name`] this service returned).
    async fn dispatch(&self, name: &str, ctx: &Ctx<'_>) -> Result<Reply, Failed>;
}

/// What the server needs to know of an operation, by its wire name.
fn info<O: Operation>(name: &'static str) -> OpInfo {
    OpInfo {
        name,
        signed: O::signed_name(name),
        implemented: O::implemented_name(name),
    }
}

#[async_trait]
impl<S: Service> Registered for S {
    fn spec(&self) -> &'static ServiceSpec {
        Service::spec(self)
    }

    fn operation(&self, name: &str) -> Option<OpInfo> {
        S::Op::NAMES
            .iter()
            .find(|n| **n == name)
            .map(|n| info::<S::Op>(n))
    }

    fn rest_operation(&self, method: &http::Method, path: &str) -> Option<OpInfo> {
        Service::rest_operation(self, method, path).map(|o| info::<S::Op>(o.name()))
    }

    fn check(&self, parts: &http::request::Parts) -> Result<(), AwsError> {
        Service::check(self, parts).map_err(|e| self.to_aws(&e))
    }

    async fn dispatch(&self, name: &str, ctx: &Ctx<'_>) -> Result<Reply, Failed> {
        // A REST operation carries what its route parses; the others are named by the
        // request and read their parameters from the decoded body.
        let parts = ctx.input.parts;
        let op = match Service::spec(self).routing {
            Routing::RestXml { .. } | Routing::Bearer { .. } | Routing::Unsigned { .. } => {
                Service::rest_operation(self, &parts.method, parts.uri.path())
            }
            _ => S::Op::from_name(name),
        };
        let Some(op) = op.filter(|o| o.name() == name) else {
            return Err(tessera_wire::CommonError::UnknownOperation(format!(
                "Could not find operation {name}"
            ))
            .to_aws(Service::spec(self).protocol)
            .into());
        };
        self.call(op, ctx).await.map_err(|e| Failed {
            error: self.to_aws(&e),
            details: self.failure_details(&e),
        })
    }
}

/// Where the registry sends a request, from its declarations alone.
#[derive(Debug, Clone)]
pub enum Routed {
    /// A registered service, and the operation its declaration names (`None`: the service
    /// has no such operation; `name` is what the request asked for).
    Service {
        service: Arc<dyn Registered>,
        op: Option<OpInfo>,
        name: String,
    },
    /// awsQuery: the service is chosen once the body (which may carry the `Action`) is read
    /// ([`Registry::query_service`]).
    Query,
    /// An `X-Amz-Target` no registered service declares.
    UnknownTarget { target: String },
    /// No other declaration claims it: the registered fallback (the S3 REST data plane).
    Fallback(Arc<dyn Streaming>),
    /// Nothing claims it, and no fallback is registered.
    Unclaimed,
}

fn header(parts: &http::request::Parts, name: impl http::header::AsHeaderName) -> Option<&str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn query_has(raw_query: &str, name: &str) -> bool {
    raw_query
        .split('&')
        .any(|p| p.split('=').next() == Some(name))
}

/// The bearer token of a request (`Authorization: Bearer …`), if it has one.
pub fn bearer_token(parts: &http::request::Parts) -> Option<&str> {
    header(parts, http::header::AUTHORIZATION).and_then(|v| {
        (v.len() > 7 && v.is_char_boundary(7) && v[..7].eq_ignore_ascii_case("bearer "))
            .then(|| v[7..].trim())
    })
}

/// Every service the server runs, registered once in the composition root.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    services: Vec<Arc<dyn Registered>>,
    fallback: Option<Arc<dyn Streaming>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Add a service. Panics if its name, signing names or routing overlap another's: two
    /// services must never claim the same request.
    pub fn register(&mut self, service: Arc<dyn Registered>) -> &mut Registry {
        let spec = service.spec();
        assert!(
            !matches!(spec.routing, Routing::Fallback),
            "service {}: the fallback is a streaming service (`register_stream`)",
            spec.name
        );
        self.assert_distinct(spec);
        self.services.push(service);
        self
    }

    /// Register the streaming service that serves every request no declaration claims.
    /// Panics if there is one already, if its routing is not [`Routing::Fallback`], or if
    /// its name or signing names are another's.
    pub fn register_stream(&mut self, service: Arc<dyn Streaming>) -> &mut Registry {
        let spec = service.spec();
        assert!(
            matches!(spec.routing, Routing::Fallback),
            "service {}: a streaming service is registered as the fallback",
            spec.name
        );
        self.assert_distinct(spec);
        self.fallback = Some(service);
        self
    }

    /// Panic if `spec`'s name, signing names or routing overlap a registered service's.
    fn assert_distinct(&self, spec: &ServiceSpec) {
        let fallback = self.fallback.as_ref().map(|f| f.spec());
        for o in self.services.iter().map(|s| s.spec()).chain(fallback) {
            assert_ne!(o.name, spec.name, "service {} registered twice", spec.name);
            // S3 and s3control both sign as `s3`, as on AWS: the fallback is not chosen by its
            // signing name.
            let fallback =
                matches!(o.routing, Routing::Fallback) || matches!(spec.routing, Routing::Fallback);
            assert!(
                fallback
                    || !o
                        .signing_names
                        .iter()
                        .any(|n| spec.signing_names.contains(n)),
                "services {} and {} share a signing name",
                o.name,
                spec.name
            );
            let overlap = match (o.routing, spec.routing) {
                (Routing::JsonTarget { prefix: a }, Routing::JsonTarget { prefix: b }) => a == b,
                (Routing::RestXml { prefix: a }, Routing::RestXml { prefix: b })
                | (Routing::Unsigned { prefix: a }, Routing::Unsigned { prefix: b }) => {
                    a.starts_with(b) || b.starts_with(a)
                }
                (Routing::RestJson { routes: a }, Routing::RestJson { routes: b }) => a
                    .iter()
                    .any(|x| b.iter().any(|y| x.method == y.method && x.path == y.path)),
                (Routing::Fallback, Routing::Fallback) => true,
                _ => false,
            };
            assert!(
                !overlap,
                "services {} and {} claim the same requests",
                o.name, spec.name
            );
        }
    }

    /// The fallback service, if one is registered.
    pub fn fallback(&self) -> Option<&Arc<dyn Streaming>> {
        self.fallback.as_ref()
    }

    pub fn services(&self) -> &[Arc<dyn Registered>] {
        &self.services
    }

    /// The service a request is for, by the declarations, in a fixed order: an
    /// `X-Amz-Target`; a REST API's path prefix; a fixed REST route; an unsigned document
    /// path; a bearer-token API's path (with a bearer token or no signature);
    /// awsQuery at `/`; else the fallback.
    pub fn route(&self, parts: &http::request::Parts) -> Routed {
        let path = parts.uri.path();
        let query = parts.uri.query().unwrap_or("");
        let method = &parts.method;
        if let Some(target) = header(parts, "x-amz-target") {
            return match self.json_service(target) {
                Some((service, name)) => Routed::Service {
                    service: service.clone(),
                    op: service.operation(name),
                    name: name.to_owned(),
                },
                None => Routed::UnknownTarget {
                    target: target.to_owned(),
                },
            };
        }
        // The first service whose declaration `claims` the request, the operation named by
        // its REST method and path.
        let by_rest = |claims: &dyn Fn(&Routing) -> bool| {
            self.services
                .iter()
                .find(|s| claims(&s.spec().routing))
                .map(|service| {
                    let op = service.rest_operation(method, path);
                    Routed::Service {
                        service: service.clone(),
                        op,
                        name: op.map_or("Unknown", |o| o.name).to_owned(),
                    }
                })
        };
        if let Some(r) =
            by_rest(&|r| matches!(r, Routing::RestXml { prefix } if path.starts_with(prefix)))
        {
            return r;
        }
        for service in &self.services {
            if let Routing::RestJson { routes } = service.spec().routing
                && let Some(r) = routes.iter().find(|r| r.matches(method, path, query))
            {
                return Routed::Service {
                    service: service.clone(),
                    op: service.operation(r.operation),
                    name: r.operation.to_owned(),
                };
            }
        }
        if let Some(r) =
            by_rest(&|r| matches!(r, Routing::Unsigned { prefix } if path.starts_with(prefix)))
        {
            return r;
        }
        let sigv4 = header(parts, http::header::AUTHORIZATION)
            .is_some_and(|v| v.starts_with("AWS4-"))
            || query_has(query, "X-Amz-Signature");
        let bearer = bearer_token(parts).is_some();
        if bearer || !sigv4 {
            let claimed = |r: &Routing| matches!(r, Routing::Bearer { claims } if claims(path));
            if let Some(r) = by_rest(&claimed) {
                return r;
            }
        }
        if path == "/" {
            let form = header(parts, http::header::CONTENT_TYPE).is_some_and(|v| {
                v.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
            if query_has(query, "Action") || (*method == http::Method::POST && form) {
                return Routed::Query;
            }
        }
        match &self.fallback {
            Some(s) => Routed::Fallback(s.clone()),
            None => Routed::Unclaimed,
        }
    }

    /// The awsQuery service for a request: the one its credential scope names, else (no
    /// readable signature) the one that knows `action`, else the first awsQuery service.
    pub fn query_service(
        &self,
        scope_service: Option<&str>,
        action: &str,
    ) -> Option<&Arc<dyn Registered>> {
        let query = || {
            self.services
                .iter()
                .filter(|s| matches!(s.spec().routing, Routing::Query { .. }))
        };
        if let Some(name) = scope_service
            && let Some(s) = query().find(|s| s.spec().signing_names.contains(&name))
        {
            return Some(s);
        }
        query()
            .find(|s| s.operation(action).is_some())
            .or_else(|| query().next())
    }

    /// The awsJson1.1 service an `X-Amz-Target` names, and the operation name.
    fn json_service<'t>(&self, target: &'t str) -> Option<(&Arc<dyn Registered>, &'t str)> {
        let (prefix, op) = target.rsplit_once('.')?;
        self.services
            .iter()
            .find(|s| matches!(s.spec().routing, Routing::JsonTarget { prefix: p } if p == prefix))
            .map(|s| (s, op))
    }
}
