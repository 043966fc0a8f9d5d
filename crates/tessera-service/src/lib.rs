//! The service port: what a service crate declares and implements so the server can route,
//! authenticate, dispatch, meter and audit its requests without knowing it.
//!
//! A service implements [`Service`]: a static [`ServiceSpec`] (signing names, wire protocol,
//! audit event source, how its requests are recognised), a typed [`Operation`] enum (written
//! with [`operations!`]), one `call` per request with a [`Ctx`], and one place that renders
//! its errors ([`Service::to_aws`]). The composition root registers each service once in a
//! [`Registry`]; routing, dispatch, metrics and audit read the declarations from there.

use async_trait::async_trait;
use bytes::Bytes;
use std::fmt::Debug;
use std::sync::Arc;
use tessera_audit::EventDetails;
use tessera_core::{Caller, RequestMeta};
use tessera_wire::query::QueryParams;
use tessera_wire::{AwsError, Protocol};

/// How the server recognises a service's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// awsQuery at `/` with an `Action`: the service whose signing name the credential scope
    /// names, or (for a request whose signature cannot be read) the one that knows the action.
    Query {
        /// The API version requests may name (`Version=`).
        version: &'static str,
    },
    /// awsJson1.1 with `X-Amz-Target: {prefix}.{Operation}`.
    JsonTarget { prefix: &'static str },
    /// restJson1 with per-operation paths, routed by the server to the service of that name
    /// (sso-oidc's `POST /token?aws_iam=t`).
    Rest,
    /// A REST API under a path prefix of its own (s3control's `/v20180820/`), whatever the
    /// Host; the service names the operation from the method and path
    /// ([`Service::rest_operation`]).
    RestPath { prefix: &'static str },
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

/// A service's typed operations. Write the enum with [`operations!`].
pub trait Operation: Copy + Debug + Send + Sync + 'static {
    /// Every operation, in declaration order.
    const ALL: &'static [Self];
    /// The operation's wire name (`CreateRole`).
    fn name(self) -> &'static str;
    /// The operation a wire name denotes.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|o| o.name() == name)
    }
    /// Whether requests must be signed (false: the request carries its own token, as
    /// `AssumeRoleWithWebIdentity` does).
    fn signed(self) -> bool {
        true
    }
    /// Whether Tessera implements it (false: AWS defines it, and the service answers that it
    /// is not available).
    fn implemented(self) -> bool {
        true
    }
}

/// Declare a typed operation enum: its variants are the wire names.
///
/// ```
/// tessera_service::operations! {
///     /// Things the example service does.
///     pub enum ExampleOp { Ping, Pong }
/// }
/// assert_eq!("Pong".parse::<ExampleOp>(), Ok(ExampleOp::Pong));
/// assert_eq!(ExampleOp::Ping.as_str(), "Ping");
/// assert_eq!(ExampleOp::VARIANTS.len(), 2);
/// ```
#[macro_export]
macro_rules! operations {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($op:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $($op),* }

        impl $name {
            /// Every operation, in declaration order.
            pub const VARIANTS: &'static [$name] = &[$($name::$op),*];

            /// The operation's wire name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$op => stringify!($op)),* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $(stringify!($op) => Ok($name::$op),)* _ => Err(()) }
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
    /// The JSON body, for `Routing::JsonTarget` services.
    pub json: Option<&'a serde_json::Value>,
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
    /// For [`Routing::RestPath`] services: the operation a method and path denote.
    fn rest_operation(&self, _method: &http::Method, _path: &str) -> Option<Self::Op> {
        None
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
    /// The operation a REST method and path denote ([`Routing::RestPath`] services).
    fn rest_operation(&self, method: &http::Method, path: &str) -> Option<OpInfo>;
    /// Handle the operation `op` (an [`OpInfo::name`] this service returned).
    async fn dispatch(&self, op: &str, ctx: &Ctx<'_>) -> Result<Reply, AwsError>;
}

#[async_trait]
impl<S: Service> Registered for S {
    fn spec(&self) -> &'static ServiceSpec {
        Service::spec(self)
    }

    fn operation(&self, name: &str) -> Option<OpInfo> {
        S::Op::from_name(name).map(|o| OpInfo {
            name: o.name(),
            signed: o.signed(),
            implemented: o.implemented(),
        })
    }

    fn rest_operation(&self, method: &http::Method, path: &str) -> Option<OpInfo> {
        Service::rest_operation(self, method, path).map(|o| OpInfo {
            name: o.name(),
            signed: o.signed(),
            implemented: o.implemented(),
        })
    }

    async fn dispatch(&self, op: &str, ctx: &Ctx<'_>) -> Result<Reply, AwsError> {
        let Some(op) = S::Op::from_name(op) else {
            return Err(tessera_wire::CommonError::UnknownOperation(format!(
                "Could not find operation {op}"
            ))
            .to_aws(Service::spec(self).protocol));
        };
        self.call(op, ctx).await.map_err(|e| self.to_aws(&e))
    }
}

/// Every service the server runs, registered once in the composition root.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    services: Vec<Arc<dyn Registered>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Add a service. Panics if its name, signing names or routing overlap another's: two
    /// services must never claim the same request.
    pub fn register(&mut self, service: Arc<dyn Registered>) -> &mut Registry {
        let spec = service.spec();
        for other in &self.services {
            let o = other.spec();
            assert_ne!(o.name, spec.name, "service {} registered twice", spec.name);
            assert!(
                !o.signing_names
                    .iter()
                    .any(|n| spec.signing_names.contains(n)),
                "services {} and {} share a signing name",
                o.name,
                spec.name
            );
            if let (Routing::JsonTarget { prefix: a }, Routing::JsonTarget { prefix: b }) =
                (o.routing, spec.routing)
            {
                assert_ne!(
                    a, b,
                    "services {} and {} share a target prefix",
                    o.name, spec.name
                );
            }
        }
        self.services.push(service);
        self
    }

    pub fn services(&self) -> &[Arc<dyn Registered>] {
        &self.services
    }

    pub fn by_name(&self, name: &str) -> Option<&Arc<dyn Registered>> {
        self.services.iter().find(|s| s.spec().name == name)
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

    /// The [`Routing::RestPath`] service whose prefix `path` starts with.
    pub fn rest_service(&self, path: &str) -> Option<&Arc<dyn Registered>> {
        self.services.iter().find(
            |s| matches!(s.spec().routing, Routing::RestPath { prefix } if path.starts_with(prefix)),
        )
    }

    /// The awsJson1.1 service an `X-Amz-Target` names, and the operation name.
    pub fn json_service<'t>(&self, target: &'t str) -> Option<(&Arc<dyn Registered>, &'t str)> {
        let (prefix, op) = target.rsplit_once('.')?;
        self.services
            .iter()
            .find(|s| matches!(s.spec().routing, Routing::JsonTarget { prefix: p } if p == prefix))
            .map(|s| (s, op))
    }
}
