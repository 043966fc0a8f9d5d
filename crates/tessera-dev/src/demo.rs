//! The seeds' data application, as a web app: a person signs in at the identity provider
//! (authorization code with PKCE), and the application does exactly seed 000's steps with the
//! AWS SDK for Rust —
//! 1. CreateTokenWithIAM, as the ApplicationRole, with the person's ID token;
//! 2. AssumeRole of the IdentityBearerRole with the Identity Center token's identity context
//!    (`ProvidedContexts`);
//! 3. GetDataAccess for a dataset's prefix (the credentials are kept per person and matched
//!    grant until shortly before they expire, as the seed recommends);
//! 4. S3 reads with the vended credentials;
//!
//! and draws a pie chart of the data. S3 Access Grants decides what each person may see; the
//! audit trail names them on every read ("who read what").

use crate::clients::{self, Keys, Target};
use crate::data::{self, BUCKET, CATALOG, Dataset, Slice, dollars};
use crate::idp::{Idp, challenge_of};
use crate::pages::{Viewer, layout};
use crate::seed::{APP_ACCOUNT, APPLICATION_ROLE, BEARER_ROLE, World};
use crate::web::{self, Req, Resp, esc};
use http::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The session cookie (opaque: a random id of a session kept here).
pub const SESSION_COOKIE: &str = "tessera_demo_session";
/// The cookie of a sign-in in progress (binds the `state` to this browser).
pub const LOGIN_COOKIE: &str = "tessera_demo_login";
/// A sign-in must come back within this long.
const LOGIN_TTL: Duration = Duration::from_secs(600);
/// Credentials are renewed this long before they expire.
const RENEW_SECS: i64 = 300;

/// A sign-in in progress.
struct Pending {
    state: String,
    verifier: String,
    nonce: String,
    started: Instant,
}

/// A signed-in person.
struct Session {
    username: String,
    name: String,
    user_id: String,
    /// The IdentityBearerRole session that carries the person's identity.
    bearer: Keys,
    /// Credentials from GetDataAccess, by the grant target they matched.
    data: Mutex<Vec<(String, Keys)>>,
}

pub struct Demo {
    target: Target,
    idp: Arc<Idp>,
    /// `http://host:port` of the demo.
    base_url: String,
    world: World,
    /// The admin listener's endpoint and the operator token the audit page reads with.
    admin: Option<(String, String)>,
    logins: Mutex<HashMap<String, Pending>>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    app_role: tokio::sync::Mutex<Option<Keys>>,
}

fn claims(jwt: &str) -> Value {
    use base64::Engine as _;
    jwt.split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// Whether a grant target (`s3://bucket/prefix*` or an object) covers a dataset's target.
fn covers(grant: &str, target: &str) -> bool {
    match grant.strip_suffix('*') {
        Some(prefix) => target.starts_with(prefix),
        None => grant == target,
    }
}

fn page(status: StatusCode, title: &str, viewer: Option<Viewer<'_>>, body: &str) -> Resp {
    web::html(status, layout(title, viewer, body))
}

impl Demo {
    pub fn new(
        target: Target,
        idp: Arc<Idp>,
        base_url: String,
        world: World,
        admin: Option<(String, String)>,
    ) -> Demo {
        idp.allow_redirect(&format!("{base_url}/callback"));
        Demo {
            target,
            idp,
            base_url,
            world,
            admin,
            logins: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            app_role: tokio::sync::Mutex::new(None),
        }
    }

    fn session(&self, r: &Req) -> Option<Arc<Session>> {
        let id = r.cookie(SESSION_COOKIE)?;
        self.sessions.lock().expect("sessions").get(id).cloned()
    }

    pub async fn handle(self: Arc<Self>, r: Req) -> Resp {
        let s = self.session(&r);
        let path = r.path.clone();
        match (r.method.as_str(), path.as_str()) {
            ("GET", "/") => match s {
                Some(_) => web::redirect("/datasets"),
                None => self.welcome(),
            },
            ("GET", "/signin") => self.sign_in(),
            ("GET", "/callback") => self.callback(&r).await,
            ("POST", "/signout") => self.sign_out(&r),
            ("GET", "/healthz") => web::text(StatusCode::OK, "ok"),
            (m, p) if p == "/datasets" || p.starts_with("/datasets/") || p == "/audit" => {
                let Some(s) = s else {
                    return web::redirect("/");
                };
                if m != "GET" {
                    return self.not_found(Some(&s));
                }
                if p == "/datasets" {
                    self.datasets(&s).await
                } else if p == "/audit" {
                    self.audit(&r, &s).await
                } else {
                    let id = p.trim_start_matches("/datasets/");
                    match data::dataset(id) {
                        Some(d) => self.chart(&s, d).await,
                        None => self.not_found(Some(&s)),
                    }
                }
            }
            _ => self.not_found(s.as_deref()),
        }
    }

    fn not_found(&self, s: Option<&Session>) -> Resp {
        page(
            StatusCode::NOT_FOUND,
            "Not found",
            s.map(|s| Viewer { name: &s.name }),
            r#"<div class="card"><p>There is no such page or dataset.</p><p><a href="/datasets">See the datasets</a></p></div>"#,
        )
    }

    fn welcome(&self) -> Resp {
        let users: String = self
            .world
            .users
            .iter()
            .map(|u| {
                format!(
                    "<li>{} (<code>{}</code>)</li>",
                    esc(&u.display_name),
                    esc(&u.username)
                )
            })
            .collect();
        page(
            StatusCode::OK,
            "Sales data, on your behalf",
            None,
            &format!(
                r#"<div class="card"><p>Sign in with your company account, and this application will chart the sales data your groups may read — reading it on your behalf through S3 Access Grants, so that the audit trail names you on every read.</p>
<p><a class="button primary" href="/signin">Sign in</a></p></div>
<div class="card"><h2>People in the development directory</h2><ul>{users}</ul><p class="muted">Their passwords are in the <code>tessera dev</code> banner.</p></div>"#
            ),
        )
    }

    /// Start the authorization code flow with PKCE; `state` is bound to this browser.
    fn sign_in(&self) -> Resp {
        let (login, state, verifier, nonce) = (
            web::random_token(),
            web::random_token(),
            format!("{}{}", web::random_token(), web::random_token()),
            web::random_token(),
        );
        let url = format!(
            "{}?response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}&code_challenge={}&code_challenge_method=S256",
            self.idp.authorize_url(),
            web::enc(&self.idp.client_id),
            web::enc(&format!("{}/callback", self.base_url)),
            web::enc("openid profile email offline_access"),
            web::enc(&state),
            web::enc(&nonce),
            web::enc(&challenge_of(&verifier)),
        );
        {
            let mut logins = self.logins.lock().expect("logins");
            logins.retain(|_, p| p.started.elapsed() < LOGIN_TTL);
            logins.insert(
                login.clone(),
                Pending {
                    state,
                    verifier,
                    nonce,
                    started: Instant::now(),
                },
            );
        }
        let mut r = web::redirect(&url);
        web::set_cookie(&mut r, LOGIN_COOKIE, &login, LOGIN_TTL.as_secs() as i64);
        r
    }

    fn refused_sign_in(&self, why: &str) -> Resp {
        page(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            None,
            &format!(
                r#"<div class="card refused"><p>{}</p><p><a href="/signin">Start again</a></p></div>"#,
                esc(why)
            ),
        )
    }

    async fn callback(&self, r: &Req) -> Resp {
        // The state must be the one this browser's sign-in was started with, and is used once:
        // a forged or replayed state is refused before any code is exchanged.
        let pending = r
            .cookie(LOGIN_COOKIE)
            .and_then(|id| self.logins.lock().expect("logins").remove(id));
        let Some(p) = pending.filter(|p| p.started.elapsed() < LOGIN_TTL) else {
            return self.refused_sign_in(
                "This sign-in was not started here, has already been used, or took too long.",
            );
        };
        let state_ok = r.q("state").is_some_and(|s| {
            subtle::ConstantTimeEq::ct_eq(s.as_bytes(), p.state.as_bytes()).into()
        });
        if !state_ok {
            return self.refused_sign_in("The sign-in's state does not match: refused.");
        }
        if let Some(e) = r.q("error") {
            return self.refused_sign_in(&format!("The identity provider refused: {e}"));
        }
        let Some(code) = r.q("code") else {
            return self.refused_sign_in("The identity provider sent no authorization code.");
        };
        match self.establish(code, &p).await {
            Ok(session) => {
                let id = web::random_token();
                self.sessions
                    .lock()
                    .expect("sessions")
                    .insert(id.clone(), Arc::new(session));
                let mut resp = web::redirect("/datasets");
                web::set_cookie(&mut resp, SESSION_COOKIE, &id, 8 * 3600);
                web::set_cookie(&mut resp, LOGIN_COOKIE, "", 0);
                resp
            }
            Err(e) => {
                tracing::warn!(error = %e, "demo sign-in failed");
                self.refused_sign_in(&format!("Signing in failed: {e}"))
            }
        }
    }

    /// The ApplicationRole's session (what the seeds' Lambda function would run as).
    async fn app_role(&self) -> anyhow::Result<Keys> {
        let mut cached = self.app_role.lock().await;
        if let Some(k) = cached.as_ref().filter(|k| k.fresh(RENEW_SECS)) {
            return Ok(k.clone());
        }
        let sts = clients::sts(&self.target, &self.world.app_keys);
        let out = sts
            .assume_role()
            .role_arn(format!(
                "arn:aws:iam::{APP_ACCOUNT}:role/{APPLICATION_ROLE}"
            ))
            .role_session_name("data-application")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("AssumeRole ApplicationRole: {}", sdk_message(&e)))?;
        let c = out
            .credentials()
            .ok_or_else(|| anyhow::anyhow!("AssumeRole returned no credentials"))?;
        let k = clients::session_keys(
            Some(c.access_key_id()),
            Some(c.secret_access_key()),
            Some(c.session_token()),
            Some(c.expiration()),
        )
        .ok_or_else(|| anyhow::anyhow!("AssumeRole returned incomplete credentials"))?;
        *cached = Some(k.clone());
        Ok(k)
    }

    /// The seed's steps 1 and 4A/B: the provider's ID token → Identity Center's → the
    /// IdentityBearerRole session carrying the person's identity context.
    async fn establish(&self, code: &str, p: &Pending) -> anyhow::Result<Session> {
        let redirect = format!("{}/callback", self.base_url);
        let answer = crate::http_client::post_form(
            &self.idp.token_url(),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &redirect),
                ("client_id", &self.idp.client_id),
                ("code_verifier", &p.verifier),
            ],
        )
        .await?;
        if answer.status != 200 {
            anyhow::bail!(
                "the identity provider refused the code: {}",
                answer.json()["error_description"].as_str().unwrap_or("")
            );
        }
        let id_token = answer.json()["id_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no id_token"))?
            .to_owned();
        let idp_claims = claims(&id_token);
        if idp_claims["nonce"].as_str() != Some(p.nonce.as_str()) {
            anyhow::bail!("the ID token's nonce does not match this sign-in");
        }
        let app = self.app_role().await?;
        let exchanged = clients::sso_oidc(&self.target, &app)
            .create_token_with_iam()
            .client_id(&self.world.application_arn)
            .grant_type("urn:ietf:params:oauth:grant-type:jwt-bearer")
            .assertion(&id_token)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("CreateTokenWithIAM: {}", sdk_message(&e)))?;
        let idc = claims(exchanged.id_token().unwrap_or(""));
        let context = idc["sts:identity_context"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("the Identity Center token has no identity context"))?;
        let user_id = idc["sub"].as_str().unwrap_or_default().to_owned();
        let seeded = self.world.users.iter().find(|u| u.user_id == user_id);
        let username = seeded.map_or_else(
            || {
                idp_claims["preferred_username"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            },
            |u| u.username.clone(),
        );
        let name = idp_claims["name"].as_str().unwrap_or(&username).to_owned();
        use aws_sdk_sts::types::ProvidedContext;
        let assumed = clients::sts(&self.target, &app)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{APP_ACCOUNT}:role/{BEARER_ROLE}"))
            .role_session_name(
                format!("identity-bearer-for-{}", username.replace('.', "-"))
                    .chars()
                    .take(64)
                    .collect::<String>(),
            )
            .provided_contexts(
                ProvidedContext::builder()
                    .provider_arn("arn:aws:iam::aws:contextProvider/IdentityCenter")
                    .context_assertion(context)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("AssumeRole IdentityBearerRole: {}", sdk_message(&e)))?;
        let c = assumed
            .credentials()
            .ok_or_else(|| anyhow::anyhow!("AssumeRole returned no credentials"))?;
        let bearer = clients::session_keys(
            Some(c.access_key_id()),
            Some(c.secret_access_key()),
            Some(c.session_token()),
            Some(c.expiration()),
        )
        .ok_or_else(|| anyhow::anyhow!("AssumeRole returned incomplete credentials"))?;
        Ok(Session {
            username,
            name,
            user_id,
            bearer,
            data: Mutex::new(Vec::new()),
        })
    }

    fn sign_out(&self, r: &Req) -> Resp {
        if let Some(id) = r.cookie(SESSION_COOKIE) {
            self.sessions.lock().expect("sessions").remove(id);
        }
        let mut resp = web::redirect("/");
        web::set_cookie(&mut resp, SESSION_COOKIE, "", 0);
        resp
    }

    /// A session whose bearer credentials ran out must sign in again.
    fn expired(&self, s: &Session) -> Option<Resp> {
        (!s.bearer.fresh(30)).then(|| {
            page(
                StatusCode::UNAUTHORIZED,
                "Your session has ended",
                None,
                r#"<div class="card"><p>Please sign in again.</p><p><a class="button primary" href="/signin">Sign in</a></p></div>"#,
            )
        })
    }

    async fn datasets(&self, s: &Session) -> Resp {
        if let Some(r) = self.expired(s) {
            return r;
        }
        let viewer = Some(Viewer { name: &s.name });
        let listed = clients::s3control(&self.target, &s.bearer)
            .list_caller_access_grants()
            .account_id(APP_ACCOUNT)
            .allowed_by_application(true)
            .send()
            .await;
        let scopes: Vec<String> = match listed {
            Ok(l) => l
                .caller_access_grants_list()
                .iter()
                .filter_map(|g| g.grant_scope().map(str::to_owned))
                .collect(),
            Err(e) => {
                return page(
                    StatusCode::BAD_GATEWAY,
                    "Datasets",
                    viewer,
                    &format!(
                        r#"<div class="card refused"><p>S3 Access Grants could not list your grants: {}</p></div>"#,
                        esc(&sdk_message(&e))
                    ),
                );
            }
        };
        let (mine, others): (Vec<&Dataset>, Vec<&Dataset>) = CATALOG
            .iter()
            .partition(|d| scopes.iter().any(|g| covers(g, &d.target())));
        let item = |d: &Dataset, note: &str| {
            format!(
                r#"<li><a class="title" href="/datasets/{id}">{title}</a><br><span class="muted"><code>{target}</code></span><br>{note}</li>"#,
                id = d.id,
                title = esc(d.title),
                target = esc(&d.target()),
            )
        };
        let mut body = String::new();
        let _ = write!(
            body,
            r#"<p>Signed in as <strong>{}</strong> (<code>{}</code>). These are the datasets your groups' grants in S3 Access Grants cover (ListCallerAccessGrants).</p><h2>Datasets you may read</h2>"#,
            esc(&s.name),
            esc(&s.username)
        );
        if mine.is_empty() {
            body.push_str(r#"<p class="muted">No grant covers any dataset for you.</p>"#);
        } else {
            body.push_str(r#"<ul class="datasets">"#);
            for d in &mine {
                body.push_str(&item(d, "Chart this month's sales"));
            }
            body.push_str("</ul>");
        }
        body.push_str(r#"<h2>Datasets you may not read</h2>"#);
        if others.is_empty() {
            body.push_str(r#"<p class="muted">None: every dataset is yours to read.</p>"#);
        } else {
            body.push_str(r#"<ul class="datasets">"#);
            for d in &others {
                body.push_str(&item(
                    d,
                    r#"<span class="muted">No grant covers it for you; opening it asks S3 Access Grants anyway, and shows its answer.</span>"#,
                ));
            }
            body.push_str("</ul>");
        }
        body.push_str(r#"<h2>Your grants</h2><div class="table-wrap"><table><caption>What S3 Access Grants says you may read</caption><thead><tr><th scope="col">Grant scope</th></tr></thead><tbody>"#);
        for g in &scopes {
            let _ = write!(body, "<tr><td><code>{}</code></td></tr>", esc(g));
        }
        if scopes.is_empty() {
            body.push_str(r#"<tr><td class="muted">No grants.</td></tr>"#);
        }
        body.push_str("</tbody></table></div>");
        page(StatusCode::OK, "Datasets", viewer, &body)
    }

    /// The vended credentials covering `d`, from the cache or GetDataAccess. `Err` carries
    /// the refusal page.
    async fn data_keys(&self, s: &Session, d: &Dataset) -> Result<Keys, Resp> {
        let target = d.target();
        if let Some((_, k)) = s
            .data
            .lock()
            .expect("data keys")
            .iter()
            .find(|(g, k)| covers(g, &target) && k.fresh(RENEW_SECS))
        {
            return Ok(k.clone());
        }
        use aws_sdk_s3control::operation::RequestId as _;
        use aws_sdk_s3control::types::Permission;
        let answer = clients::s3control(&self.target, &s.bearer)
            .get_data_access()
            .account_id(APP_ACCOUNT)
            .target(&target)
            .permission(Permission::Read)
            .send()
            .await;
        let viewer = || Some(Viewer { name: &s.name });
        match answer {
            Ok(a) => {
                let c = a.credentials();
                let keys = c.and_then(|c| {
                    clients::session_keys(
                        c.access_key_id(),
                        c.secret_access_key(),
                        c.session_token(),
                        c.expiration(),
                    )
                });
                let Some(keys) = keys else {
                    return Err(page(
                        StatusCode::BAD_GATEWAY,
                        d.title,
                        viewer(),
                        r#"<div class="card refused"><p>S3 Access Grants answered without credentials.</p></div>"#,
                    ));
                };
                let matched = a.matched_grant_target().unwrap_or(&target).to_owned();
                let mut cache = s.data.lock().expect("data keys");
                cache.retain(|(g, k)| g != &matched && k.fresh(RENEW_SECS));
                cache.push((matched, keys.clone()));
                Ok(keys)
            }
            Err(e) => {
                let request_id = e.request_id().unwrap_or("").to_owned();
                let code = e
                    .as_service_error()
                    .and_then(|se| aws_sdk_s3control::error::ProvideErrorMetadata::code(se))
                    .unwrap_or("")
                    .to_owned();
                if code == "AccessDenied" {
                    Err(page(
                        StatusCode::FORBIDDEN,
                        &format!("{}: not for you", d.title),
                        viewer(),
                        &format!(
                            r#"<div class="card refused"><p><strong>S3 Access Grants refused.</strong> You asked to read <code>{target}</code> (permission <code>READ</code>), and no grant for you or your groups covers it.</p>
<p>If you think you should be able to read it, ask your data owner, and give them this request id. An operator can see why with <code>tessera audit explain {rid}</code>.</p>
<p>Request id: <code class="request-id">{rid}</code></p>
<p><a href="/datasets">Back to your datasets</a></p></div>"#,
                            target = esc(&target),
                            rid = esc(&request_id)
                        ),
                    ))
                } else {
                    Err(page(
                        StatusCode::BAD_GATEWAY,
                        d.title,
                        viewer(),
                        &format!(
                            r#"<div class="card refused"><p>S3 Access Grants could not be asked: {}</p><p>Request id: <code>{}</code></p></div>"#,
                            esc(&sdk_message(&e)),
                            esc(&request_id)
                        ),
                    ))
                }
            }
        }
    }

    /// Seed 000's step 5: read the objects with the vended credentials, and chart them.
    async fn chart(&self, s: &Session, d: &Dataset) -> Resp {
        if let Some(r) = self.expired(s) {
            return r;
        }
        let keys = match self.data_keys(s, d).await {
            Ok(k) => k,
            Err(resp) => return resp,
        };
        let viewer = || Some(Viewer { name: &s.name });
        let s3 = clients::s3(&self.target, &keys);
        let listed = s3
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix(d.prefix)
            .send()
            .await;
        let keys_listed: Vec<String> = match listed {
            Ok(l) => l
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .filter(|k| k.ends_with(".csv"))
                .collect(),
            Err(e) => {
                return page(
                    StatusCode::BAD_GATEWAY,
                    d.title,
                    viewer(),
                    &format!(
                        r#"<div class="card refused"><p>S3 refused the listing: {}</p></div>"#,
                        esc(&sdk_message(&e))
                    ),
                );
            }
        };
        // This month's folder if there is one, else the newest.
        let month = {
            use chrono::Datelike;
            let t = chrono::Utc::now().date_naive();
            format!("{}-{:02}", t.year(), t.month())
        };
        let months: std::collections::BTreeSet<String> = keys_listed
            .iter()
            .filter_map(|k| {
                k.strip_prefix(d.prefix)?
                    .split('/')
                    .next()
                    .map(str::to_owned)
            })
            .collect();
        let shown = if months.contains(&month) {
            Some(month)
        } else {
            months.iter().next_back().cloned()
        };
        let mut slices = Vec::new();
        let mut bad_rows = 0;
        if let Some(m) = &shown {
            for k in keys_listed
                .iter()
                .filter(|k| k.starts_with(&format!("{}{m}/", d.prefix)))
            {
                let obj = match s3.get_object().bucket(BUCKET).key(k).send().await {
                    Ok(o) => o,
                    Err(e) => {
                        return page(
                            StatusCode::BAD_GATEWAY,
                            d.title,
                            viewer(),
                            &format!(
                                r#"<div class="card refused"><p>S3 refused <code>{}</code>: {}</p></div>"#,
                                esc(k),
                                esc(&sdk_message(&e))
                            ),
                        );
                    }
                };
                let bytes = match obj.body.collect().await {
                    Ok(b) => b.into_bytes(),
                    Err(_) => continue,
                };
                let ((cents, kilograms), bad) = data::sum_csv(&String::from_utf8_lossy(&bytes));
                bad_rows += bad;
                let label = k
                    .rsplit('/')
                    .next()
                    .unwrap_or(k)
                    .trim_end_matches(".csv")
                    .to_owned();
                slices.push(Slice {
                    label,
                    cents,
                    kilograms,
                });
            }
        }
        slices.sort_by(|a, b| b.cents.cmp(&a.cents).then(a.label.cmp(&b.label)));
        let total: u64 = slices.iter().map(|s| s.cents).sum();
        let total_kg: u64 = slices.iter().map(|s| s.kilograms).sum();
        let period = shown.as_deref().unwrap_or("no data yet");
        let title = format!("{} — {period}", d.title);
        let mut legend = String::new();
        let mut rows = String::new();
        for (i, sl) in slices.iter().enumerate() {
            let color = crate::chart::PALETTE[i % crate::chart::PALETTE.len()];
            let share = crate::chart::percent_text(crate::chart::per_mille(sl.cents, total));
            let _ = write!(
                legend,
                r#"<li><span class="swatch" style="background:{color}" aria-hidden="true"></span><span>{}</span><span class="muted">{} · {}</span></li>"#,
                esc(&sl.label),
                dollars(sl.cents),
                share
            );
            let _ = write!(
                rows,
                r#"<tr><th scope="row">{}</th><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                esc(&sl.label),
                sl.kilograms,
                dollars(sl.cents),
                share
            );
        }
        let note = if bad_rows > 0 {
            format!(
                r#"<p class="muted">{bad_rows} rows could not be read and are not counted.</p>"#
            )
        } else {
            String::new()
        };
        let body = format!(
            r#"<p>Revenue by variety, read on your behalf from <code>{target}</code> with credentials S3 Access Grants vended for you.</p>
<div class="card chart">{svg}<div><h2>Varieties</h2><ul class="legend">{legend}</ul><p><strong>Total: <span class="total">{total}</span></strong></p></div></div>
<div class="table-wrap"><table><caption>{caption}</caption><thead><tr><th scope="col">Variety</th><th scope="col" class="num">Kilograms</th><th scope="col" class="num">Revenue</th><th scope="col" class="num">Share</th></tr></thead><tbody>{rows}</tbody><tfoot><tr><th scope="row">Total</th><td class="num">{total_kg}</td><td class="num">{total}</td><td class="num">100%</td></tr></tfoot></table></div>
{note}<p><a href="/datasets">Back to your datasets</a> · <a href="/audit?user={uid}">See your reads in the audit trail</a></p>"#,
            target = esc(&d.target()),
            svg = crate::chart::pie(&title, &slices),
            total = dollars(total),
            caption = esc(&format!("{} by variety, {period}", d.title)),
            uid = web::enc(&s.user_id),
        );
        page(StatusCode::OK, &title, viewer(), &body)
    }

    /// Who read what: the data events of the audit trail, from the admin listener, as an
    /// operator reads them (with an operator token).
    async fn audit(&self, r: &Req, s: &Session) -> Resp {
        let viewer = || Some(Viewer { name: &s.name });
        let Some((admin, token)) = &self.admin else {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Who read what",
                viewer(),
                r#"<div class="card"><p>The admin listener is not running, so the audit trail cannot be read.</p></div>"#,
            );
        };
        let who = r.q("user").filter(|u| !u.is_empty());
        let mut url = format!("{admin}/audit/events?event=GetObject&limit=200");
        if let Some(u) = who {
            let _ = write!(url, "&user={}", web::enc(u));
        }
        let auth = format!("Bearer {token}");
        let answer = crate::http_client::call("GET", &url, &[("authorization", &auth)], None).await;
        let records = match answer {
            Ok(a) if a.status == 200 => a.json()["Records"].as_array().cloned().unwrap_or_default(),
            Ok(a) => {
                return page(
                    StatusCode::BAD_GATEWAY,
                    "Who read what",
                    viewer(),
                    &format!(
                        r#"<div class="card refused"><p>The audit trail answered {}.</p></div>"#,
                        a.status
                    ),
                );
            }
            Err(e) => {
                return page(
                    StatusCode::BAD_GATEWAY,
                    "Who read what",
                    viewer(),
                    &format!(
                        r#"<div class="card refused"><p>The audit trail could not be read: {}</p></div>"#,
                        esc(&e.to_string())
                    ),
                );
            }
        };
        let name_of = |id: &str| {
            self.world
                .users
                .iter()
                .find(|u| u.user_id == id)
                .map(|u| u.display_name.clone())
        };
        let mut options = String::from(r#"<option value="">Everyone</option>"#);
        for u in &self.world.users {
            let sel = if who == Some(u.user_id.as_str()) {
                " selected"
            } else {
                ""
            };
            let _ = write!(
                options,
                r#"<option value="{}"{sel}>{}</option>"#,
                esc(&u.user_id),
                esc(&u.display_name)
            );
        }
        let mut rows = String::new();
        for rec in &records {
            let on_behalf = rec["userIdentity"]["onBehalfOf"]["userId"].as_str();
            let person = match on_behalf {
                Some(id) => match name_of(id) {
                    Some(n) => format!(
                        "{} <span class=\"muted\"><code>{}</code></span>",
                        esc(&n),
                        esc(id)
                    ),
                    None => format!("<code>{}</code>", esc(id)),
                },
                None => format!(
                    r#"<span class="muted">no one: {}</span>"#,
                    esc(rec["userIdentity"]["arn"].as_str().unwrap_or("?"))
                ),
            };
            let object = format!(
                "s3://{}/{}",
                rec["requestParameters"]["bucketName"]
                    .as_str()
                    .unwrap_or(""),
                rec["requestParameters"]["key"].as_str().unwrap_or("")
            );
            let grant = rec["additionalEventData"]["accessGrants"]["grantScope"]
                .as_str()
                .map(|g| format!("<code>{}</code>", esc(g)))
                .unwrap_or_else(|| r#"<span class="muted">none</span>"#.into());
            let result = match rec["errorCode"].as_str() {
                Some(c) => format!(r#"<span class="refused-text">refused ({})</span>"#, esc(c)),
                None => "read".into(),
            };
            let _ = write!(
                rows,
                r#"<tr><td>{}</td><td>{person}</td><td><code>{}</code></td><td>{grant}</td><td>{result}</td><td><code>{}</code></td></tr>"#,
                esc(rec["eventTime"].as_str().unwrap_or("")),
                esc(&object),
                esc(rec["requestID"].as_str().unwrap_or(""))
            );
        }
        if records.is_empty() {
            rows.push_str(r#"<tr><td colspan="6" class="muted">No reads yet.</td></tr>"#);
        }
        let body = format!(
            r#"<p>Every read of an object is in Tessera's audit trail, with the person it was read on behalf of — whichever application read it. Newest first.</p>
<form method="get" action="/audit" class="card filter"><label for="user">Person</label> <select id="user" name="user">{options}</select> <button type="submit" class="button primary">Show</button></form>
<div class="table-wrap"><table><caption>GetObject events{caption}</caption><thead><tr><th scope="col">Time (UTC)</th><th scope="col">On behalf of</th><th scope="col">Object</th><th scope="col">Grant</th><th scope="col">Result</th><th scope="col">Request id</th></tr></thead><tbody>{rows}</tbody></table></div>"#,
            caption = who
                .and_then(name_of)
                .map(|n| format!(" on behalf of {}", esc(&n)))
                .unwrap_or_default(),
        );
        page(StatusCode::OK, "Who read what", viewer(), &body)
    }
}

/// An SDK error's code and message, for a page or a log line.
fn sdk_message<
    E: aws_sdk_sts::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
>(
    e: &aws_sdk_sts::error::SdkError<E, R>,
) -> String {
    match e.as_service_error() {
        Some(se) => format!(
            "{}: {}",
            se.code().unwrap_or("error"),
            se.message().unwrap_or("")
        ),
        None => format!("{e:?}").chars().take(300).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_targets_cover_datasets() {
        assert!(covers(
            "s3://example-bucket/projects/red/*",
            "s3://example-bucket/projects/red/tomatoes/"
        ));
        assert!(!covers(
            "s3://example-bucket/projects/red/*",
            "s3://example-bucket/projects/blue/blueberries/"
        ));
        assert!(covers("s3://b/k", "s3://b/k"));
        assert!(!covers("s3://b/k", "s3://b/k2"));
    }
}
