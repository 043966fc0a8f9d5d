//! Scale-out on loopback: two `tessera serve` replicas sharing one PostgreSQL, their objects
//! in a three-node Garage cluster (replication factor 3), the seed flow spread over both.
//! What one replica changes the other enforces within a second (group removal, revocation);
//! a replica killed under load loses no acknowledged write for clients that retry on the
//! other; a Garage node down does not stop reads or writes.

use crate::support::cli::assume_role_args;
use crate::support::{Cli, Creds, ROOT, access_grants_location_trust, creds, fixture, step};
use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime};
use tessera_testkit::cluster::{GarageCluster, PrivatePostgres, start_replica};
use tessera_testkit::{DevServer, TestIdp, tessera_bin};

const BUCKET: &str = "lake";
const PREFIX: &str = "team";

/// A request signed with SigV4 for `service`, as raw HTTP/1.1.
fn signed(
    endpoint: &str,
    service: &str,
    method: &str,
    path_query: &str,
    body: &[u8],
    c: &Creds,
) -> Vec<u8> {
    signed_with(endpoint, service, method, path_query, body, c, &[])
}

/// [`signed`] with `extra` headers (signed too). An empty session token signs with the
/// long-term key alone.
fn signed_with(
    endpoint: &str,
    service: &str,
    method: &str,
    path_query: &str,
    body: &[u8],
    c: &Creds,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode, sign,
    };
    let host = endpoint.trim_start_matches("http://");
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let identity = aws_credential_types::Credentials::new(
        c.0.clone(),
        c.1.clone(),
        (!c.2.is_empty()).then(|| c.2.clone()),
        None,
        "scaleout",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let headers: Vec<(&str, &str)> = [("host", host), ("x-amz-account-id", ROOT)]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    let signable = SignableRequest::new(
        method,
        format!("http://{host}{path_query}"),
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut out = format!("{method} {path_query} HTTP/1.1\r\n");
    for (k, v) in headers.iter().copied().chain(instructions.headers()) {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    [out.into_bytes(), body.to_vec()].concat()
}

/// Send raw bytes to `endpoint`: (status, body), or `None` when the connection failed (a
/// replica that is down).
fn send(endpoint: &str, req: &[u8]) -> Option<(u16, String)> {
    let host = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    s.write_all(req).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Some((status, body))
}

/// GetDataAccess for READWRITE on the team prefix, at `server`: the vended credentials, or
/// the refusal's status.
fn gda(server: &DevServer, c: &Creds) -> Result<Creds, u16> {
    gda_at(&server.manifest.endpoint, c)
}

fn gda_at(endpoint: &str, c: &Creds) -> Result<Creds, u16> {
    let target = format!("s3%3A%2F%2F{BUCKET}%2F{PREFIX}%2F%2A");
    let req = signed(
        endpoint,
        "s3",
        "GET",
        &format!("/v20180820/accessgrantsinstance/dataaccess?permission=READWRITE&target={target}"),
        b"",
        c,
    );
    let (status, body) = send(endpoint, &req).ok_or(0u16)?;
    if status != 200 {
        return Err(status);
    }
    Ok(credentials_in(&body))
}

/// The text of the first `<name>` element of an XML answer.
fn xml_field(xml: &str, name: &str) -> String {
    xml.split(&format!("<{name}>"))
        .nth(1)
        .and_then(|r| r.split(&format!("</{name}>")).next())
        .unwrap_or_else(|| panic!("no {name} in {xml}"))
        .to_owned()
}

/// The credentials in an AssumeRole or GetDataAccess answer.
fn credentials_in(xml: &str) -> Creds {
    (
        xml_field(xml, "AccessKeyId"),
        xml_field(xml, "SecretAccessKey"),
        xml_field(xml, "SessionToken"),
    )
}

/// The account root's long-term key at `server` (no session token).
fn root_key(server: &DevServer) -> Creds {
    let k = server.account(ROOT);
    (
        k.access_key_id.clone(),
        k.secret_access_key.clone(),
        String::new(),
    )
}

fn put_at(endpoint: &str, c: &Creds, key: &str, body: &[u8]) -> Option<u16> {
    let path = format!("/{BUCKET}/{PREFIX}/{key}");
    send(endpoint, &signed(endpoint, "s3", "PUT", &path, body, c)).map(|r| r.0)
}

fn put(server: &DevServer, c: &Creds, key: &str, body: &[u8]) -> Option<u16> {
    put_at(&server.manifest.endpoint, c, key, body)
}

fn get(server: &DevServer, c: &Creds, key: &str) -> Option<(u16, String)> {
    let endpoint = &server.manifest.endpoint;
    let path = format!("/{BUCKET}/{PREFIX}/{key}");
    send(endpoint, &signed(endpoint, "s3", "GET", &path, b"", c))
}

/// An Identity Store call (awsJson1.1) by the account root at `server`: its JSON answer.
fn identitystore(server: &DevServer, op: &str, doc: serde_json::Value) -> serde_json::Value {
    let root = root_key(server);
    let endpoint = &server.manifest.endpoint;
    let target = format!("AWSIdentityStore.{op}");
    let req = signed_with(
        endpoint,
        "identitystore",
        "POST",
        "/",
        doc.to_string().as_bytes(),
        &root,
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &target),
        ],
    );
    let (status, body) = send(endpoint, &req).expect("the replica answers");
    assert_eq!(status, 200, "{op}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Requests running in the background until finished: threads that each repeat `call`
/// (true: answered as it should be), keeping every latency and counting the failures.
struct Background {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<(Vec<Duration>, usize)>>,
}

impl Background {
    fn start<F>(threads: usize, call: F) -> Background
    where
        F: Fn(usize) -> bool + Send + Sync + Clone + 'static,
    {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..threads)
            .map(|t| {
                let (stop, call) = (stop.clone(), call.clone());
                std::thread::spawn(move || {
                    let (mut took, mut failed) = (Vec::new(), 0);
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let started = Instant::now();
                        if call(t) {
                            took.push(started.elapsed());
                        } else {
                            failed += 1;
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                    (took, failed)
                })
            })
            .collect();
        Background { stop, threads }
    }

    /// GETs of the seed object with `c`, one thread at each of `servers`.
    fn gets(servers: [&DevServer; 2], c: &Creds) -> Background {
        let endpoints = servers.map(|s| s.manifest.endpoint.clone());
        let c = c.clone();
        Background::start(2, move |t| {
            let at = &endpoints[t];
            let path = format!("/{BUCKET}/{PREFIX}/hello.csv");
            send(at, &signed(at, "s3", "GET", &path, b"", &c)).is_some_and(|r| r.0 == 200)
        })
    }

    /// GetDataAccess calls with the session `c`, one thread at each of `servers`.
    fn gdas(servers: [&DevServer; 2], c: &Creds) -> Background {
        let endpoints = servers.map(|s| s.manifest.endpoint.clone());
        let c = c.clone();
        Background::start(2, move |t| gda_at(&endpoints[t], &c).is_ok())
    }

    /// Stop; "n answered, p50, p99, failures".
    fn finish(self) -> String {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut took, mut failed) = (Vec::new(), 0);
        for t in self.threads {
            let (t, f) = t.join().unwrap();
            took.extend(t);
            failed += f;
        }
        if took.is_empty() {
            return format!("0 answered, {failed} failed");
        }
        format!(
            "{} answered, p50 {:?}, p99 {:?}, {failed} failed",
            took.len(),
            percentile(&mut took, 0.5),
            percentile(&mut took, 0.99)
        )
    }
}

/// `tessera args --config <dir>/tessera.toml`, an operator command on the shared store:
/// (success, stdout and stderr).
fn tessera(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(tessera_bin())
        .args(args)
        .arg("--config")
        .arg(dir.join("tessera.toml"))
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The seed flow, round after round: the token exchange (CreateTokenWithIAM of a fresh
/// assertion from the load issuer), AssumeRole of IdentityBearerRole with the identity
/// context, GetDataAccess, a PUT and a GET with the vended credentials, each call at the next
/// replica of `servers` in turn. Rounds per second, 4 clients for 3 s; every call must
/// succeed.
fn seed_flow_rate(servers: &[&DevServer], app: &Creds, load: &LoadIssuer) -> f64 {
    let endpoints: Vec<String> = servers
        .iter()
        .map(|s| s.manifest.endpoint.clone())
        .collect();
    let rounds = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let until = started + Duration::from_secs(3);
    std::thread::scope(|s| {
        for t in 0..4usize {
            let (endpoints, rounds) = (&endpoints, &rounds);
            s.spawn(move || {
                let mut n = t;
                let mut next = || {
                    n += 1;
                    endpoints[n % endpoints.len()].clone()
                };
                while Instant::now() < until {
                    let assertion = load.mint();
                    let body = serde_json::json!({"clientId": load.app,
                        "grantType": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                        "assertion": assertion})
                    .to_string();
                    let at = next();
                    let req = signed_with(
                        &at,
                        "sso-oauth",
                        "POST",
                        "/token?aws_iam=t",
                        body.as_bytes(),
                        app,
                        &[("content-type", "application/json")],
                    );
                    let (status, answer) = send(&at, &req).expect("CreateTokenWithIAM answered");
                    assert_eq!(status, 200, "{answer}");
                    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
                    let context = answer["awsAdditionalDetails"]["identityContext"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    let body: String = form_urlencoded::Serializer::new(String::new())
                        .append_pair("Action", "AssumeRole")
                        .append_pair("Version", "2011-06-15")
                        .append_pair(
                            "RoleArn",
                            &format!("arn:aws:iam::{ROOT}:role/IdentityBearerRole"),
                        )
                        .append_pair("RoleSessionName", &format!("load-{t}"))
                        .append_pair(
                            "ProvidedContexts.member.1.ProviderArn",
                            "arn:aws:iam::aws:contextProvider/IdentityCenter",
                        )
                        .append_pair("ProvidedContexts.member.1.ContextAssertion", &context)
                        .finish();
                    let at = next();
                    let req = signed_with(
                        &at,
                        "sts",
                        "POST",
                        "/",
                        body.as_bytes(),
                        app,
                        &[("content-type", "application/x-www-form-urlencoded")],
                    );
                    let (status, xml) = send(&at, &req).expect("AssumeRole answered");
                    assert_eq!(status, 200, "{xml}");
                    let bearer = credentials_in(&xml);
                    let at = next();
                    let vended = gda_at(&at, &bearer).expect("GetDataAccess");
                    let key = format!("flow-{t}.csv");
                    assert_eq!(put_at(&next(), &vended, &key, b"x,y\n"), Some(200));
                    let at = next();
                    let path = format!("/{BUCKET}/{PREFIX}/{key}");
                    let got = send(&at, &signed(&at, "s3", "GET", &path, b"", &vended));
                    assert_eq!(got.map(|r| r.0), Some(200));
                    rounds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    rounds.into_inner() as f64 / started.elapsed().as_secs_f64()
}

/// An S3 Control call (restXml) by the account root at `server`: (status, body).
fn s3control(server: &DevServer, method: &str, path: &str, body: &str) -> (u16, String) {
    let root = root_key(server);
    let endpoint = &server.manifest.endpoint;
    let req = signed(endpoint, "s3", method, path, body.as_bytes(), &root);
    send(endpoint, &req).expect("the replica answers")
}

/// An IAM call (query protocol) by the account root at `server`; it must succeed.
fn iam(server: &DevServer, params: &[(&str, &str)]) {
    let root = root_key(server);
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().copied().chain([("Version", "2010-05-08")]))
        .finish();
    let endpoint = &server.manifest.endpoint;
    let req = signed_with(
        endpoint,
        "iam",
        "POST",
        "/",
        body.as_bytes(),
        &root,
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    let (status, answer) = send(endpoint, &req).expect("the replica answers");
    assert_eq!(status, 200, "{params:?}: {answer}");
}

/// The load generator's issuer and the application it exchanges for.
struct LoadIssuer {
    signer: std::sync::Arc<tessera_crypto::token::TokenSigner>,
    url: String,
    app: String,
}

impl LoadIssuer {
    /// An assertion for Mateo with a fresh `jti`.
    fn mint(&self) -> String {
        let now = chrono::Utc::now().timestamp();
        self.signer.sign(
            &serde_json::json!({"iss": self.url, "sub": "mateo", "aud": "load",
            "email": "mateo.jackson@example.com", "iat": now, "exp": now + 600,
            "jti": uuid::Uuid::new_v4().to_string()}),
        )
    }
}

/// An OIDC issuer of the load generator's own on loopback (discovery and JWKS, plain
/// HTTP), so that every round of the seed flow can exchange a fresh assertion (its own `jti`)
/// without a round trip to the IdP's sign-in: its URL.
fn serve_issuer(signer: std::sync::Arc<tessera_crypto::token::TokenSigner>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let iss = issuer.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let path = req.split_whitespace().nth(1).unwrap_or("");
            let body = if path.ends_with("/.well-known/openid-configuration") {
                serde_json::json!({"issuer": iss, "jwks_uri": format!("{iss}/jwks")}).to_string()
            } else {
                serde_json::json!({"keys": [signer.jwk()]}).to_string()
            };
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    issuer
}

/// How long until `f` holds, polled every 10 ms (fails after `limit`).
fn until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if f() {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

struct Ids {
    store: String,
    user: String,
    group: String,
    app: String,
    grant: String,
}

/// Identity Center, the application, the roles and Access Grants, through `a`.
/// The world's ids and the developer's access key (who assumes the application role).
fn provision(
    a: &DevServer,
    idp: &TestIdp,
    load_issuer: &str,
    work: &std::path::Path,
) -> (Ids, (String, String)) {
    let root = Cli::root(a);
    let (instance, store) = root.create_instance(Some("scaleout"));
    let user = root.create_user(
        &store,
        "mateo.jackson",
        "Mateo Jackson",
        "GivenName=Mateo,FamilyName=Jackson",
        Some("Value=mateo.jackson@example.com,Primary=true"),
    )["UserId"]
        .as_str()
        .unwrap()
        .to_owned();
    let group = root.create_group(&store, "Lake Readers");
    root.add_to_group(&store, &group, &user);
    let file = |name: &str, v: &serde_json::Value| {
        let p = work.join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        format!("file://{}", p.display())
    };
    let conf = serde_json::json!({"OidcJwtConfiguration": {"IssuerUrl": idp.issuer,
        "ClaimAttributePath": "email", "IdentityStoreAttributePath": "emails.value",
        "JwksRetrievalOption": "OPEN_ID_DISCOVERY"}});
    let tti = root.ok(&[
        "sso-admin",
        "create-trusted-token-issuer",
        "--instance-arn",
        &instance,
        "--name",
        "idp",
        "--trusted-token-issuer-type",
        "OIDC_JWT",
        "--trusted-token-issuer-configuration",
        &file("tti.json", &conf),
    ])["TrustedTokenIssuerArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let load_conf = serde_json::json!({"OidcJwtConfiguration": {"IssuerUrl": load_issuer,
        "ClaimAttributePath": "email", "IdentityStoreAttributePath": "emails.value",
        "JwksRetrievalOption": "OPEN_ID_DISCOVERY"}});
    let load_tti = root.ok(&[
        "sso-admin",
        "create-trusted-token-issuer",
        "--instance-arn",
        &instance,
        "--name",
        "load",
        "--trusted-token-issuer-type",
        "OIDC_JWT",
        "--trusted-token-issuer-configuration",
        &file("load-tti.json", &load_conf),
    ])["TrustedTokenIssuerArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let app = root.create_application(&instance, "Lake");
    root.require_assignment(&app, false);
    let grant = serde_json::json!({"JwtBearer": {"AuthorizedTokenIssuers": [
        {"TrustedTokenIssuerArn": tti, "AuthorizedAudiences": ["example-cli"]},
        {"TrustedTokenIssuerArn": load_tti, "AuthorizedAudiences": ["load"]}]}});
    root.put_application_grant(
        &app,
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        &file("grant.json", &grant),
    );
    let actor = serde_json::json!({"Iam": {"ActorPolicy": {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sso-oauth:CreateTokenWithIAM",
        "Resource": app, "Condition": {"ArnEquals": {"aws:PrincipalArn": format!("arn:aws:iam::{ROOT}:role/ApplicationRole")}}}]}}});
    root.put_iam_authentication_method(&app, &file("method.json", &actor));
    let root_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    root.create_role("ApplicationRole", &root_trust);
    root.put_role_policy("ApplicationRole", "app", &serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sso-oauth:CreateTokenWithIAM", "Resource": app},
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetContext"], "Resource": format!("arn:aws:iam::{ROOT}:role/IdentityBearerRole")}]}).to_string());
    let bearer_trust = std::fs::read_to_string(fixture("fixtures/identity-bearer-trust.json"))
        .unwrap()
        .replace("arn:aws:sso:::instance/ssoins-12345678", &instance);
    root.create_role("IdentityBearerRole", &bearer_trust);
    root.put_role_policy(
        "IdentityBearerRole",
        "data-access",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetDataAccess","Resource":"arn:aws:s3:us-east-1:{ROOT}:access-grants/default"}}]}}"#
        ),
    );
    root.create_role(
        "s3-access-grants-role",
        &access_grants_location_trust().to_string(),
    );
    root.put_role_policy(
        "s3-access-grants-role",
        "location-data",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:ListBucket"],"Resource":["arn:aws:s3:::{BUCKET}","arn:aws:s3:::{BUCKET}/*"]}}]}}"#
        ),
    );
    root.out(&["s3", "mb", &format!("s3://{BUCKET}")]);
    let ctl = root.s3control(ROOT);
    ctl.ok(&[
        "create-access-grants-instance",
        "--identity-center-arn",
        &instance,
    ]);
    ctl.ok(&[
        "create-access-grants-location",
        "--location-scope",
        "s3://",
        "--iam-role-arn",
        &format!("arn:aws:iam::{ROOT}:role/s3-access-grants-role"),
    ]);
    let grant = ctl
        .grant(
            "default",
            &format!("{BUCKET}/{PREFIX}/*"),
            ("DIRECTORY_GROUP", &group),
            "READWRITE",
            &[],
        )
        .ok()["AccessGrantId"]
        .as_str()
        .unwrap()
        .to_owned();
    let dev = root.new_user(
        "developer",
        Some((
            "assume",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
        )),
    );
    (
        Ids {
            store,
            user,
            group,
            app,
            grant,
        },
        (dev.key().0.to_owned(), dev.key().1.to_owned()),
    )
}

#[test]
fn replicas_on_postgres_and_a_garage_cluster() {
    // PostgreSQL is needed (and a private server of it, which this test stops and starts).
    if tessera_test_support::postgres_url().is_none() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (pg, mut garage, a, b, idp, url) = step(
        "start PostgreSQL, Garage (3 nodes), the IdP and two replicas",
        || {
            let pg = PrivatePostgres::start();
            let garage = GarageCluster::start(work.path(), 3);
            let url = pg.url();
            let master = tessera_crypto::MasterKey::generate().to_hex();
            let a = start_replica(
                &work.path().join("a"),
                &url,
                &master,
                Some((&garage, 0)),
                None,
            );
            let b = start_replica(
                &work.path().join("b"),
                &url,
                &master,
                Some((&garage, 1)),
                Some(&a.manifest.accounts[0]),
            );
            let idp = TestIdp::start(work.path());
            (pg, garage, a, b, idp, url)
        },
    );
    let signer = std::sync::Arc::new(tessera_crypto::token::TokenSigner::generate("load"));
    let load_url = serve_issuer(signer.clone());
    let (ids, dev) = step("provision the world through replica A", || {
        provision(&a, &idp, &load_url, work.path())
    });
    let load = LoadIssuer {
        signer,
        url: load_url,
        app: ids.app.clone(),
    };
    let dev_b = Cli::new(&b, (&dev.0, &dev.1));

    // The seed flow, spread over both replicas.
    let (app_session, bearer): (Creds, Creds) = step(
        "token exchange at A, identity-enhanced session at B",
        || {
            let app_session = creds(&dev_b.ok(&assume_role_args(
                &format!("arn:aws:iam::{ROOT}:role/ApplicationRole"),
                "app",
                &[],
            )));
            let token = idp.login("example-cli", "mateo.jackson", "mateo-password");
            let exchanged = Cli::session(&a, &app_session).ok(&[
                "sso-oidc",
                "create-token-with-iam",
                "--client-id",
                &ids.app,
                "--grant-type",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "--assertion",
                &token,
            ]);
            let context = exchanged["awsAdditionalDetails"]["identityContext"]
                .as_str()
                .expect("an identity context")
                .to_owned();
            let pc = format!(
                "ProviderArn=arn:aws:iam::aws:contextProvider/IdentityCenter,ContextAssertion={context}"
            );
            let bearer = creds(&Cli::session(&b, &app_session).ok(&assume_role_args(
                &format!("arn:aws:iam::{ROOT}:role/IdentityBearerRole"),
                "mateo",
                &["--provided-contexts", &pc],
            )));
            (app_session, bearer)
        },
    );
    let vended = step("GetDataAccess at A; a PUT at B, read back at A", || {
        let vended = gda(&a, &bearer).expect("GetDataAccess at A");
        assert_eq!(put(&b, &vended, "hello.csv", b"a,b\n1,2\n"), Some(200));
        let (status, body) = get(&a, &vended, "hello.csv").unwrap();
        assert_eq!((status, body.as_str()), (200, "a,b\n1,2\n"));
        // The session minted by B verifies at A, the credentials vended by A at B.
        assert!(gda(&b, &bearer).is_ok());
        vended
    });

    let mut figures = Vec::new();
    step(
        "the seed flow's data path through one replica, then both",
        || {
            let one = seed_flow_rate(&[&a], &app_session, &load);
            let two = seed_flow_rate(&[&a, &b], &app_session, &load);
            figures.push(format!(
            "seed flow (CreateTokenWithIAM, AssumeRole with the identity context, GetDataAccess, PUT, GET), 4 clients for 3 s: {one:.0} rounds/s through one replica, {two:.0} through two (round robin)"
        ));
        },
    );
    step("a Garage node down: reads and writes go on", || {
        let gets = Background::gets([&a, &b], &vended);
        garage.kill(2);
        for i in 0..20 {
            let key = format!("degraded-{i}");
            assert_eq!(put(&a, &vended, &key, key.as_bytes()), Some(200), "{key}");
            assert_eq!(get(&b, &vended, &key).map(|r| r.1), Some(key.clone()));
        }
        let mut gdas: Vec<Duration> = (0..20)
            .map(|_| {
                let started = Instant::now();
                assert!(gda(&b, &bearer).is_ok());
                started.elapsed()
            })
            .collect();
        figures.push(format!(
            "Garage node down: GetObject {}; GetDataAccess p50 {:?}, p99 {:?}",
            gets.finish(),
            percentile(&mut gdas, 0.5),
            percentile(&mut gdas, 0.99)
        ));
        garage.restart(2);
    });

    let mut b = b;
    step(
        "a replica killed under load: no acknowledged write is lost",
        || {
            let endpoints = [a.manifest.endpoint.clone(), b.manifest.endpoint.clone()];
            let acknowledged = std::sync::Mutex::new(Vec::new());
            let latencies = std::sync::Mutex::new(Vec::new());
            let retried = std::sync::atomic::AtomicUsize::new(0);
            std::thread::scope(|s| {
                for t in 0..4usize {
                    let (endpoints, vended, acknowledged, latencies, retried) =
                        (&endpoints, &vended, &acknowledged, &latencies, &retried);
                    s.spawn(move || {
                        for i in 0..100usize {
                            let key = format!("load-{t}-{i}");
                            // Round robin; a failed attempt is retried on the other replica.
                            let first = (t + i) % 2;
                            let started = Instant::now();
                            let ok = (0..2).any(|attempt| {
                                let at = &endpoints[(first + attempt) % 2];
                                let done = put_at(at, vended, &key, key.as_bytes()) == Some(200);
                                if !done {
                                    retried.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                }
                                done
                            });
                            if ok {
                                latencies.lock().unwrap().push(started.elapsed());
                                acknowledged.lock().unwrap().push(key);
                            }
                        }
                    });
                }
                std::thread::sleep(Duration::from_millis(300));
                b.kill9();
            });
            let acknowledged = acknowledged.into_inner().unwrap();
            let retried = retried.into_inner();
            assert!(
                retried > 0,
                "the replica was killed after the load, not under it"
            );
            assert!(
                acknowledged.len() >= 380,
                "{} writes acknowledged",
                acknowledged.len()
            );
            for key in &acknowledged {
                assert_eq!(
                    get(&a, &vended, key).map(|r| r.1),
                    Some(key.clone()),
                    "an acknowledged write is lost: {key}"
                );
            }
            let mut latencies = latencies.into_inner().unwrap();
            figures.push(format!(
                "a replica killed under PUT load: {} of 400 PUTs acknowledged, {retried} attempts failed and were retried on the other replica; p50 {:?}, p99 {:?}",
                acknowledged.len(),
                percentile(&mut latencies, 0.5),
                percentile(&mut latencies, 0.99)
            ));
        },
    );
    drop(b);
    // Restarted on its own data directory: the records its local audit log made durable
    // before the kill are indexed now.
    let b = start_replica(
        &work.path().join("b"),
        &url,
        "",
        Some((&garage, 1)),
        Some(&a.manifest.accounts[0]),
    );
    assert!(
        gda(&b, &bearer).is_ok(),
        "a restarted replica serves the session"
    );

    step(
        "PostgreSQL stopped under load: not ready meanwhile, recovered without help, nothing acknowledged lost",
        || {
            let root_a = Cli::root(&a);
            root_a.ok(&["iam", "create-user", "--user-name", "before-outage"]);
            let gets = Background::gets([&a, &b], &vended);
            let gdas = Background::gdas([&a, &b], &bearer);
            let ready = |s: &DevServer| {
                tessera_testkit::http_get(s.manifest.admin_endpoint.as_deref().unwrap(), "/readyz")
                    .0
            };
            assert_eq!((ready(&a), ready(&b)), (200, 200));
            pg.down();
            let stopped = Instant::now();
            until(Duration::from_secs(10), "A reports not ready", || {
                ready(&a) == 503
            });
            until(Duration::from_secs(10), "B reports not ready", || {
                ready(&b) == 503
            });
            std::thread::sleep(Duration::from_secs(2));
            let during = gets.finish();
            let gda_during = gdas.finish();
            let gets = Background::gets([&a, &b], &vended);
            pg.up();
            let back = Instant::now();
            until(Duration::from_secs(20), "A ready again", || {
                ready(&a) == 200
            });
            until(Duration::from_secs(20), "B ready again", || {
                ready(&b) == 200
            });
            let recovered = back.elapsed();
            // What was acknowledged before is there; both replicas take changes again.
            assert_eq!(
                Cli::root(&b).ok(&["iam", "get-user", "--user-name", "before-outage"])["User"]["UserName"],
                "before-outage"
            );
            Cli::root(&b).ok(&["iam", "create-user", "--user-name", "after-outage"]);
            root_a.ok(&["iam", "get-user", "--user-name", "after-outage"]);
            figures.push(format!(
            "PostgreSQL down {:?}: GetObject while down {during}; GetDataAccess while down {gda_during}; GetObject after the restart {}; both replicas ready {recovered:?} after it",
            back - stopped,
            gets.finish()
        ));
        },
    );

    let mut removal = Vec::new();
    let mut policy = Vec::new();
    let mut grants = Vec::new();
    let mut addition = Vec::new();
    step(
        "group membership changed at A, enforced at B, under load",
        || {
            let load = Background::gets([&a, &b], &vended);
            for _ in 0..10 {
                let membership = identitystore(
                    &a,
                    "GetGroupMembershipId",
                    serde_json::json!({
                "IdentityStoreId": ids.store, "GroupId": ids.group,
                "MemberId": {"UserId": ids.user}}),
                )["MembershipId"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                // Timed from the acknowledgement of the change at A.
                identitystore(
                    &a,
                    "DeleteGroupMembership",
                    serde_json::json!({
                "IdentityStoreId": ids.store, "MembershipId": membership}),
                );
                removal.push(until(
                    Duration::from_secs(1),
                    "removal enforced at B",
                    || gda(&b, &bearer) == Err(403),
                ));
                identitystore(
                    &a,
                    "CreateGroupMembership",
                    serde_json::json!({
                "IdentityStoreId": ids.store, "GroupId": ids.group,
                "MemberId": {"UserId": ids.user}}),
                );
                addition.push(until(
                    Duration::from_secs(1),
                    "addition enforced at B",
                    || gda(&b, &bearer).is_ok(),
                ));
            }
            // A policy change: a deny on the role put at A stops its sessions at B.
            let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetDataAccess","Resource":"*"}]}"#;
            for _ in 0..5 {
                iam(
                    &a,
                    &[
                        ("Action", "PutRolePolicy"),
                        ("RoleName", "IdentityBearerRole"),
                        ("PolicyName", "pause"),
                        ("PolicyDocument", deny),
                    ],
                );
                policy.push(until(
                    Duration::from_secs(1),
                    "a deny enforced at B",
                    || gda(&b, &bearer) == Err(403),
                ));
                iam(
                    &a,
                    &[
                        ("Action", "DeleteRolePolicy"),
                        ("RoleName", "IdentityBearerRole"),
                        ("PolicyName", "pause"),
                    ],
                );
                until(
                    Duration::from_secs(1),
                    "the deny's removal reaches B",
                    || gda(&b, &bearer).is_ok(),
                );
            }
            // A grant change: the grant deleted at A stops GetDataAccess at B; a new one
            // (same scope, same group) made at A lets it through again.
            let mut grant_id = ids.grant.clone();
            for _ in 0..5 {
                let (status, body) = s3control(
                    &a,
                    "DELETE",
                    &format!("/v20180820/accessgrantsinstance/grant/{grant_id}"),
                    "",
                );
                assert!(matches!(status, 200 | 204), "{status}: {body}");
                grants.push(until(
                    Duration::from_secs(1),
                    "a deleted grant enforced at B",
                    || gda(&b, &bearer) == Err(403),
                ));
                let (status, body) = s3control(
                    &a,
                    "POST",
                    "/v20180820/accessgrantsinstance/grant",
                    &format!(
                        "<CreateAccessGrantRequest xmlns=\"http://awss3control.amazonaws.com/doc/2018-08-20/\"><AccessGrantsLocationId>default</AccessGrantsLocationId><AccessGrantsLocationConfiguration><S3SubPrefix>{BUCKET}/{PREFIX}/*</S3SubPrefix></AccessGrantsLocationConfiguration><Grantee><GranteeType>DIRECTORY_GROUP</GranteeType><GranteeIdentifier>{}</GranteeIdentifier></Grantee><Permission>READWRITE</Permission></CreateAccessGrantRequest>",
                        ids.group
                    ),
                );
                assert_eq!(status, 200, "{body}");
                grant_id = xml_field(&body, "AccessGrantId");
                until(Duration::from_secs(1), "a new grant reaches B", || {
                    gda(&b, &bearer).is_ok()
                });
            }
            figures.push(format!(
                "GetObject during the membership, policy and grant changes: {}",
                load.finish()
            ));
        },
    );
    step(
        "session and audit keys rotated while both replicas serve",
        || {
            let load = Background::gets([&a, &b], &vended);
            for args in [
                &["session-keys", "rotate"][..],
                &["audit", "rotate-key"][..],
            ] {
                let out = tessera(&work.path().join("a"), args);
                assert!(out.0, "tessera {args:?}: {}", out.1);
            }
            // Sessions minted before and after the rotation, at either replica, verify at the
            // other: a session minted at B once it uses the new key is accepted at A.
            std::thread::sleep(Duration::from_millis(1500));
            let fresh = creds(&Cli::new(&b, (&dev.0, &dev.1)).ok(&assume_role_args(
                &format!("arn:aws:iam::{ROOT}:role/ApplicationRole"),
                "after-rotation",
                &[],
            )));
            assert!(
                Cli::session(&a, &fresh)
                    .caller_arn()
                    .ends_with("/after-rotation")
            );
            assert!(
                gda(&a, &bearer).is_ok(),
                "a session minted before the rotation"
            );
            let report = load.finish();
            assert!(report.ends_with(" 0 failed"), "{report}");
            figures.push(format!("GetObject during the key rotations: {report}"));
        },
    );
    let revoked_after = step("a revoked user's vended credentials fail at B", || {
        assert_eq!(get(&b, &vended, "hello.csv").map(|r| r.0), Some(200));
        let out = std::process::Command::new(tessera_bin())
            .args(["sessions", "revoke", "--user", &ids.user, "--config"])
            .arg(work.path().join("a/tessera.toml"))
            .output()
            .unwrap();
        let started = Instant::now();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        until(
            Duration::from_secs(1),
            "revocation enforced at A and B",
            || {
                get(&a, &vended, "hello.csv").map(|r| r.0) == Some(403)
                    && get(&b, &vended, "hello.csv").map(|r| r.0) == Some(403)
            },
        );
        started.elapsed()
    });
    step(
        "every replica's audit records in one verifiable trail",
        || {
            let (mut a, mut b) = (a, b);
            assert!(a.stop() && b.stop(), "the replicas stop cleanly");
            for dir in ["a", "b"] {
                let (ok, out) = tessera(&work.path().join(dir), &["audit", "verify"]);
                assert!(ok && out.contains("audit trail verified"), "{dir}: {out}");
                assert!(out.contains(" 0 waiting to be indexed"), "{dir}: {out}");
            }
        },
    );
    for f in &figures {
        eprintln!("scale-out: {f}");
    }
    eprintln!(
        "scale-out: enforced at the other replica after: group removal p50 {:?}, max {:?}; addition p50 {:?}, max {:?}; a policy's deny p50 {:?}, max {:?}; a grant's deletion p50 {:?}, max {:?}; revocation (both replicas) {:?}",
        percentile(&mut removal, 0.5),
        percentile(&mut removal, 1.0),
        percentile(&mut addition, 0.5),
        percentile(&mut addition, 1.0),
        percentile(&mut policy, 0.5),
        percentile(&mut policy, 1.0),
        percentile(&mut grants, 0.5),
        percentile(&mut grants, 1.0),
        revoked_after
    );
}
