//! The world `tessera dev` shows. Beside Tessera's endpoint it starts
//! - a **development OIDC provider** (`idp`; not for production) with the seeded directory's
//!   users and their passwords;
//! - the **demo data application** (`demo`): the seeds' application as a web app — sign in,
//!   see the datasets your groups may read, a pie chart of one, a clear refusal for the others,
//!   and who read what;
//!
//! and seeds the world through Tessera's public APIs (`seed`): Identity Center in account
//! 222222222222, the application, roles, S3 Access Grants and `example-bucket` in account
//! 111111111111. What must survive a restart is kept in `<data dir>/dev-world/` (`state`).

pub mod chart;
pub mod clients;
pub mod data;
pub mod demo;
pub mod http_client;
pub mod idp;
pub mod pages;
pub mod seed;
pub mod state;
pub mod web;

use anyhow::{Context, Result};
use clients::{Keys, Target};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// The directory groups of the seeds.
pub const RED_GROUP: &str = "Red Project Group";
pub const BLUE_GROUP: &str = "Blue Project Group";

/// What only the server can do for the world: operator actions on its store.
#[async_trait::async_trait]
pub trait Operator: Send + Sync {
    /// A SCIM bearer token for an identity store (as `tessera scim-token create`).
    async fn scim_token(&self, identity_store_id: &str) -> Result<String>;
    /// An operator token for the admin listener (as `tessera operator-token create`).
    async fn operator_token(&self) -> Result<String>;
    /// Whether `token` is a live operator token.
    async fn operator_token_valid(&self, token: &str) -> bool;
}

/// Where the world is and what it may use.
pub struct Options {
    pub endpoint: String,
    pub region: String,
    pub data_dir: PathBuf,
    /// Root keys of the application account and of the Identity Center account.
    pub app_root: Keys,
    pub idc_root: Keys,
    /// The admin listener (`http://host:port`), for the audit page.
    pub admin_endpoint: Option<String>,
    /// Where the demo and the provider listen; port 0 (or a taken port) takes the port they
    /// had last time, else a free one.
    pub demo_listen: SocketAddr,
    pub idp_listen: SocketAddr,
    pub operator: Arc<dyn Operator>,
}

/// A directory user, for the banner and the manifest.
#[derive(Debug, Clone)]
pub struct UserInfo {
    pub username: String,
    pub password: String,
    pub display_name: String,
    pub groups: Vec<String>,
    pub user_id: String,
}

/// The running world.
pub struct DevWorld {
    pub demo_url: String,
    pub issuer: String,
    pub client_id: String,
    pub users: Vec<UserInfo>,
    /// The `tip configure idp …` command that points `tip` at this world.
    pub tip_configure: String,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl DevWorld {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Bind `want`; when its port is 0, try the port used last time first.
async fn listen(want: SocketAddr, last: Option<u16>) -> Result<tokio::net::TcpListener> {
    if want.port() == 0
        && let Some(p) = last
        && let Ok(l) = tokio::net::TcpListener::bind(SocketAddr::new(want.ip(), p)).await
    {
        return Ok(l);
    }
    Ok(web::bind(want).await?)
}

/// Start the provider, seed the world, start the demo.
pub async fn start(o: Options) -> Result<DevWorld> {
    let mut state = state::State::load(&o.data_dir)?;
    let idp_listener = listen(o.idp_listen, state.idp.as_ref().map(|i| i.port))
        .await
        .context("binding the development identity provider")?;
    let idp_addr = idp_listener.local_addr()?;
    let mut idp_state = state
        .idp
        .clone()
        .unwrap_or_else(|| idp::Idp::new_state(idp_addr.port()));
    idp_state.port = idp_addr.port();
    state.idp = Some(idp_state.clone());
    let idp = Arc::new(idp::Idp::new(&idp_state, &format!("http://{idp_addr}"))?);

    let demo_listener = listen(o.demo_listen, state.demo_port)
        .await
        .context("binding the demo application")?;
    let demo_addr = demo_listener.local_addr()?;
    state.demo_port = Some(demo_addr.port());

    let (tx, rx) = watch::channel(false);
    let mut tasks = Vec::new();
    {
        let idp = idp.clone();
        let h = Arc::new(move |r| idp.clone().handle(r));
        tasks.push(tokio::spawn(web::serve(idp_listener, h, rx.clone())));
    }

    let target = Target {
        endpoint: o.endpoint.clone(),
        region: o.region.clone(),
    };
    let roots = seed::Roots {
        app: o.app_root.clone(),
        idc: o.idc_root.clone(),
    };
    let world = seed::seed(
        &target,
        &roots,
        &idp.issuer,
        &idp.client_id,
        &idp_state.users,
        o.operator.as_ref(),
        &mut state,
    )
    .await
    .context("seeding the development world")?;

    let admin = match &o.admin_endpoint {
        None => None,
        Some(a) => {
            let token = match state.operator_token.clone() {
                Some(t) if o.operator.operator_token_valid(&t).await => t,
                _ => {
                    let t = o.operator.operator_token().await?;
                    state.operator_token = Some(t.clone());
                    t
                }
            };
            Some((a.clone(), token))
        }
    };
    state.save(&o.data_dir)?;

    let base_url = format!("http://{demo_addr}");
    let tip_configure = format!(
        "tip --profile tessera-dev configure idp --issuer {} --client-id {} --endpoint-url {} --region {} --web-identity-role-arn {} --application-arn {} --identity-bearer-role-arn {} --account-id {}",
        idp.issuer,
        idp::TIP_CLIENT_ID,
        o.endpoint,
        o.region,
        world.tip_role_arn,
        world.application_arn,
        world.bearer_role_arn,
        seed::APP_ACCOUNT
    );
    let users = idp_state
        .users
        .iter()
        .map(|u| UserInfo {
            username: u.username.clone(),
            password: u.password.clone(),
            display_name: u.display_name(),
            groups: u.groups.clone(),
            user_id: world
                .users
                .iter()
                .find(|s| s.username == u.username)
                .map(|s| s.user_id.clone())
                .unwrap_or_default(),
        })
        .collect();
    let demo = Arc::new(demo::Demo::new(
        target,
        idp.clone(),
        base_url.clone(),
        world,
        admin,
    ));
    let h = Arc::new(move |r| demo.clone().handle(r));
    tasks.push(tokio::spawn(web::serve(demo_listener, h, rx)));
    Ok(DevWorld {
        demo_url: base_url,
        issuer: idp.issuer.clone(),
        client_id: idp.client_id.clone(),
        users,
        tip_configure,
        shutdown: tx,
        tasks,
    })
}
