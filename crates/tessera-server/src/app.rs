//! The composition root's application: the views, the registry of services and what the
//! request pipeline ([`crate::pipeline`]) needs, built once at start-up.

use crate::config::Limits;
use crate::metrics::Metrics;
use std::sync::Arc;
use tessera_access_grants::{AccessGrantsService, Quotas};
use tessera_audit::AuditQueue;
use tessera_authz::GrantView;
use tessera_authz::{Authorizer, DirectoryView, KeyRingView, PrincipalView, RevocationView};
use tessera_core::Deployment;
use tessera_crypto::MasterKey;
use tessera_crypto::token::ContextSealer;
use tessera_iam::IamService;
use tessera_identity_center::{
    IdentityCenterView, IdentityStoreService, IssuerDocuments, ScimService, SsoAdminService,
    SsoOidcService, TokenIssuer,
};
use tessera_oidc::OidcVerifier;
use tessera_s3::codec::BaseDomains;
use tessera_s3::{S3Codec, S3Handler, S3Service};
use tessera_service::Registry;
use tessera_store::Store;
use tessera_store::view::Refresher;
use tessera_sts::StsService;

pub use crate::pipeline::{ResponseBody, handle};

/// Everything a request needs, built once at start-up.
#[derive(Debug)]
pub struct App {
    pub deployment: Deployment,
    pub store: Arc<dyn Store>,
    pub master: MasterKey,
    /// The session key ring (a replicated view).
    pub ring: Arc<KeyRingView>,
    /// The IAM principal view every decision reads.
    pub principals: Arc<PrincipalView>,
    /// Authentication caches (shared with the authoriser IAM forgets deleted keys through).
    pub credentials: Arc<tessera_authz::credentials::CredentialCache>,
    /// Revoked directory users (a replicated view), checked on every session request.
    pub revocations: Arc<RevocationView>,
    /// sso-admin configuration (a replicated view) the token endpoint reads.
    pub identity_center: Arc<IdentityCenterView>,
    /// Identity-store users and memberships (a replicated view).
    pub directory: Arc<DirectoryView>,
    /// The S3 Access Grants index (a replicated view).
    pub grants: Arc<GrantView>,
    /// The Identity Center token issuer (its discovery and JWKS documents).
    pub issuer: Arc<TokenIssuer>,
    /// The URL clients reach this server at.
    pub public_url: String,
    /// Every service, registered once ([`register_services`]).
    pub services: Registry,
    pub audit: AuditQueue,
    /// When records must be written, and what a failed write does to the request.
    pub audit_policy: tessera_audit::AuditPolicy,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// Where S3 objects live (the S3 service holds it too; the readiness check asks it).
    pub objects: Arc<dyn tessera_s3::Backend>,
}

/// How an [`App`] is put together.
#[derive(Debug)]
pub struct AppParts {
    pub deployment: Deployment,
    pub store: Arc<dyn Store>,
    pub master: MasterKey,
    /// Where requests hand their records (the segment log in a server).
    pub audit: AuditQueue,
    pub audit_policy: tessera_audit::AuditPolicy,
    pub limits: Limits,
    pub oidc: Arc<OidcVerifier>,
    /// Accept `http://` OIDC issuers on loopback hosts (dev mode and tests).
    pub allow_http_issuers: bool,
    /// The URL clients reach this server at (`http://host:port`): the base of the Identity
    /// Center token issuer's URL.
    pub public_url: String,
    /// Where S3 objects live.
    pub objects: Arc<dyn tessera_s3::Backend>,
}

/// The kernel a service is built from: the composition root hands each service what it needs.
#[derive(Debug, Clone)]
pub struct Kernel {
    pub deployment: Deployment,
    pub store: Arc<dyn Store>,
    pub master: MasterKey,
    pub authz: Authorizer,
    pub ring: Arc<KeyRingView>,
    pub oidc: Arc<OidcVerifier>,
    pub allow_http_issuers: bool,
    pub revocations: Arc<RevocationView>,
    pub identity_center: Arc<IdentityCenterView>,
    pub directory: Arc<DirectoryView>,
    pub grants: Arc<GrantView>,
    pub issuer: Arc<TokenIssuer>,
    pub limits: Limits,
    /// The URL clients reach this server at (no trailing `/`).
    pub public_url: String,
    /// Where S3 objects live.
    pub objects: Arc<dyn tessera_s3::Backend>,
}

/// **The one place services are registered.** A new service is a crate implementing
/// `tessera_service::Service`, constructed here from the kernel and added to the registry;
/// routing, authentication, dispatch, metrics and audit read its declaration.
pub fn register_services(k: &Kernel, r: &mut Registry) {
    r.register(Arc::new(
        AccessGrantsService::new(
            k.store.clone(),
            k.store.clone(),
            k.grants.clone(),
            k.directory.clone(),
            k.authz.clone(),
            k.ring.clone(),
            k.deployment.clone(),
        )
        .with_quotas(Quotas {
            locations: k.limits.max_access_grants_locations,
            grants: k.limits.max_access_grants,
        }),
    ));
    r.register(Arc::new(
        IamService::new(
            k.store.clone(),
            k.deployment.clone(),
            k.master.clone(),
            k.authz.clone(),
        )
        .with_http_loopback_issuers(k.allow_http_issuers),
    ));
    r.register(Arc::new(
        StsService::new(
            k.deployment.clone(),
            k.authz.clone(),
            k.ring.clone(),
            k.store.clone(),
            k.oidc.clone(),
            k.allow_http_issuers,
        )
        .with_identity_contexts(
            ContextSealer::new(&k.master),
            k.revocations.clone(),
            k.directory.clone(),
        ),
    ));
    r.register(Arc::new(
        SsoAdminService::new(
            k.store.clone(),
            k.identity_center.clone(),
            k.authz.clone(),
            k.deployment.clone(),
        )
        .with_http_loopback_issuers(k.allow_http_issuers),
    ));
    r.register(Arc::new(IdentityStoreService::new(
        k.store.clone(),
        k.directory.clone(),
        k.authz.clone(),
        k.deployment.clone(),
    )));
    r.register(Arc::new(SsoOidcService::new(
        k.directory.clone(),
        k.identity_center.clone(),
        k.store.clone(),
        k.authz.clone(),
        k.oidc.clone(),
        k.issuer.clone(),
        &k.master,
        k.revocations.clone(),
    )));
    r.register(Arc::new(IssuerDocuments(k.issuer.clone())));
    r.register(Arc::new(
        ScimService::new(k.store.clone(), k.directory.clone()).with_base_url(&k.public_url),
    ));
    // The S3 REST API: every request no declaration above claims.
    r.register_stream(Arc::new(S3Service::new(
        S3Codec::new(
            S3Handler::new(k.objects.clone(), k.authz.clone()),
            BaseDomains::new(s3_base_domains(&k.public_url)),
        ),
        k.deployment.partition.clone(),
    )));
}

impl App {
    /// Load the views and register the standard services.
    pub async fn build(p: AppParts) -> Result<App, tessera_store::StoreError> {
        App::build_with(p, |_, _| {}).await
    }

    /// [`App::build`], then let `extra` register more services (tests).
    pub async fn build_with(
        p: AppParts,
        extra: impl FnOnce(&Kernel, &mut Registry),
    ) -> Result<App, tessera_store::StoreError> {
        let principals = Arc::new(PrincipalView::load(p.store.clone(), p.store.clone()).await?);
        let ring = Arc::new(
            tessera_authz::keyring::load_view(p.store.clone(), p.store.clone(), p.master.clone())
                .await?,
        );
        let revocations = Arc::new(
            tessera_authz::revocations::load_view(p.store.clone(), p.store.clone()).await?,
        );
        let identity_center = Arc::new(
            tessera_identity_center::view::load_view(p.store.clone(), p.store.clone()).await?,
        );
        let directory =
            Arc::new(tessera_authz::directory::load_view(p.store.clone(), p.store.clone()).await?);
        let grants =
            Arc::new(tessera_authz::grants::load_view(p.store.clone(), p.store.clone()).await?);
        let issuer = Arc::new(
            TokenIssuer::load(
                p.store.as_ref(),
                &p.master,
                &p.public_url,
                chrono::Utc::now().timestamp(),
            )
            .await?,
        );
        let kernel = Kernel {
            deployment: p.deployment.clone(),
            store: p.store.clone(),
            master: p.master.clone(),
            authz: Authorizer::new(principals.clone(), p.deployment.clone()),
            ring: ring.clone(),
            oidc: p.oidc,
            allow_http_issuers: p.allow_http_issuers,
            revocations: revocations.clone(),
            identity_center: identity_center.clone(),
            directory: directory.clone(),
            grants: grants.clone(),
            issuer: issuer.clone(),
            limits: p.limits.clone(),
            public_url: p.public_url.trim_end_matches('/').to_owned(),
            objects: p.objects.clone(),
        };
        let mut services = Registry::new();
        register_services(&kernel, &mut services);
        extra(&kernel, &mut services);
        Ok(App {
            deployment: p.deployment,
            store: p.store,
            master: p.master,
            ring,
            principals,
            credentials: kernel.authz.credentials().clone(),
            revocations,
            identity_center,
            directory,
            grants,
            issuer,
            public_url: p.public_url.trim_end_matches('/').to_owned(),
            services,
            audit: p.audit,
            audit_policy: p.audit_policy,
            metrics: Arc::new(Metrics::default()),
            limits: p.limits,
            objects: p.objects,
        })
    }

    /// The refresher that keeps every replicated view fresh (the composition root spawns it).
    pub fn refresher(&self) -> Refresher {
        let mut r = Refresher::new();
        r.register(self.principals.clone());
        r.register(self.ring.clone());
        r.register(self.revocations.clone());
        r.register(self.identity_center.clone());
        r.register(self.directory.clone());
        r.register(self.grants.clone());
        r
    }
}

/// The host names under which `<bucket>.<host>` is virtual-host-style S3 addressing: the
/// public URL's host (unless it is an IP address) and `localhost`.
fn s3_base_domains(public_url: &str) -> Vec<String> {
    let mut out = vec!["localhost".to_owned()];
    if let Ok(u) = public_url.parse::<http::Uri>()
        && let Some(h) = u.host()
        && h.parse::<std::net::IpAddr>().is_err()
        && !h.starts_with('[')
        && h != "localhost"
    {
        out.insert(0, h.to_ascii_lowercase());
    }
    out
}
