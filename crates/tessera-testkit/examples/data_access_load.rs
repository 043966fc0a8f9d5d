//! GetDataAccess requests per second over HTTP against a real `tessera dev`, side by side with
//! a bare hyper "hello" server in the same process, driven by the same keep-alive HTTP/1.1
//! load loop.
//!
//! `cargo run --release -p tessera-testkit --example data_access_load -- [SECONDS] [CONCURRENCY] [GRANTS]`
//! (defaults 10 s, 16, 1,000). Needs the release `tessera` binary (`cargo build --release
//! --bin tessera`, or `TESSERA_BIN`). Setup goes through the s3control API, signed here with
//! `aws-sigv4`; the load repeats one signed GetDataAccess request (SigV4 has no replay
//! state, and signing each request would load the client, not the server), so both servers
//! see byte-for-byte the same kind of loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tessera_testkit::DevServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ACCOUNT: &str = "111111111111";

/// A request signed for s3control (S3 canonicalisation), as raw HTTP/1.1 bytes.
fn signed(
    host: &str,
    method: &str,
    path_query: &str,
    body: &str,
    key: (&str, &str),
    token: Option<&str>,
) -> Vec<u8> {
    signed_for("s3", host, method, path_query, body, key, token)
}

fn signed_for(
    service: &str,
    host: &str,
    method: &str,
    path_query: &str,
    body: &str,
    key: (&str, &str),
    token: Option<&str>,
) -> Vec<u8> {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode, sign,
    };
    let mut settings = SigningSettings::default();
    if service == "s3" {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let identity = aws_credential_types::Credentials::new(
        key.0,
        key.1,
        token.map(str::to_owned),
        None,
        "load",
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
    let headers = [("host", host), ("x-amz-account-id", ACCOUNT)];
    let uri = format!("http://{host}{path_query}");
    let signable = SignableRequest::new(
        method,
        uri,
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut out = format!("{method} {path_query} HTTP/1.1\r\n");
    for (k, v) in headers.iter().copied().chain(instructions.headers()) {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

/// Send one request on a keep-alive connection; returns the status and body.
async fn exchange(conn: &mut TcpStream, req: &[u8], buf: &mut Vec<u8>) -> (u16, Vec<u8>) {
    conn.write_all(req).await.unwrap();
    buf.clear();
    let mut chunk = [0u8; 16384];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status: u16 = head[9..12].parse().unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap_or(0))
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = conn.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed");
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[end + 4..end + 4 + len].to_vec();
            buf.drain(..end + 4 + len);
            return (status, body);
        }
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn call(addr: &str, req: Vec<u8>) -> (u16, String) {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let (s, b) = exchange(&mut c, &req, &mut Vec::new()).await;
    (s, String::from_utf8_lossy(&b).into_owned())
}

/// Requests per second of `req` sent over `conc` keep-alive connections for `secs`.
async fn load(addr: &str, req: Vec<u8>, secs: u64, conc: usize) -> (f64, u64) {
    let req = Arc::new(req);
    let done = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (req, done, bad, addr) = (req.clone(), done.clone(), bad.clone(), addr.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut c = TcpStream::connect(&addr).await.unwrap();
            c.set_nodelay(true).unwrap();
            let mut buf = Vec::new();
            while Instant::now() < deadline {
                let (status, _) = exchange(&mut c, &req, &mut buf).await;
                if status == 200 {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    bad.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (
        done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(),
        bad.load(Ordering::Relaxed),
    )
}

async fn hello_server() -> String {
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let svc = service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from_static(b"hello")),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::main]
async fn main() {
    let (secs, conc) = tessera_testkit::load::secs_and_clients(10, 16);
    let grants = tessera_testkit::load::arg(3, 1000).max(1) as usize;
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account(ACCOUNT).clone();
    let endpoint = server.manifest.endpoint.clone();
    let host = endpoint.trim_start_matches("http://").to_owned();
    let rk = (root.access_key_id.as_str(), root.secret_access_key.as_str());

    // The caller (an IAM user allowed GetDataAccess) and the location role, through IAM.
    let iam = aws_sdk_iam::Client::new(&server.sdk_config(rk.0, rk.1).await);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"access-grants.s3.amazonaws.com"},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}]}"#;
    iam.create_role()
        .role_name("loc")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam.create_user().user_name("reader").send().await.unwrap();
    iam.put_user_policy()
        .user_name("reader")
        .policy_name("gda")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetDataAccess","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let k = iam
        .create_access_key()
        .user_name("reader")
        .send()
        .await
        .unwrap();
    let k = k.access_key().unwrap();
    // The caller is a role session, as an application's is (a long-term key would be looked
    // up in the store on every request; a session is opened with the key ring).
    iam.create_role()
        .role_name("app")
        .assume_role_policy_document(format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/reader"}},"Action":"sts:AssumeRole"}}]}}"#))
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("app")
        .policy_name("gda")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetDataAccess","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name("reader")
        .policy_name("assume")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let sts = aws_sdk_sts::Client::new(
        &server
            .sdk_config(k.access_key_id(), k.secret_access_key())
            .await,
    );
    let c = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/app"))
        .role_session_name("load")
        .send()
        .await
        .unwrap();
    let c = c.credentials().unwrap();
    let reader = (
        c.access_key_id().to_owned(),
        c.secret_access_key().to_owned(),
        c.session_token().to_owned(),
    );

    let ctl = |method: &str, path: &str, body: String| signed(&host, method, path, &body, rk, None);
    let ns = "xmlns=\"http://awss3control.amazonaws.com/doc/2018-08-20/\"";
    let (s, b) = call(
        &host,
        ctl("POST", "/v20180820/accessgrantsinstance", String::new()),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(&host, ctl("POST", "/v20180820/accessgrantsinstance/location", format!(
        "<CreateAccessGrantsLocationRequest {ns}><LocationScope>s3://</LocationScope><IAMRoleArn>arn:aws:iam::{ACCOUNT}:role/loc</IAMRoleArn></CreateAccessGrantsLocationRequest>"))).await;
    assert_eq!(s, 200, "{b}");
    let t = Instant::now();
    for i in 0..grants {
        let (s, b) = call(&host, ctl("POST", "/v20180820/accessgrantsinstance/grant", format!(
            "<CreateAccessGrantRequest {ns}><AccessGrantsLocationId>default</AccessGrantsLocationId><AccessGrantsLocationConfiguration><S3SubPrefix>bucket-{:03}/team-{}/*</S3SubPrefix></AccessGrantsLocationConfiguration><Grantee><GranteeType>IAM</GranteeType><GranteeIdentifier>arn:aws:iam::{ACCOUNT}:role/app</GranteeIdentifier></Grantee><Permission>READ</Permission></CreateAccessGrantRequest>",
            i % 1000, i / 1000))).await;
        assert_eq!(s, 200, "{b}");
    }
    println!(
        "{grants} grants created through CreateAccessGrant in {:.1?}",
        t.elapsed()
    );

    let gda = signed(
        &host,
        "GET",
        "/v20180820/accessgrantsinstance/dataaccess?permission=READ&target=s3%3A%2F%2Fbucket-007%2Fteam-0%2Freports%2Fq1.csv",
        "",
        (&reader.0, &reader.1),
        Some(&reader.2),
    );
    let (s, b) = call(&host, gda.clone()).await;
    assert_eq!(s, 200, "GetDataAccess works before the load starts: {b}");
    let hello = hello_server().await;
    let hello_req =
        format!("GET / HTTP/1.1\r\nhost: {hello}\r\ncontent-length: 0\r\n\r\n").into_bytes();
    let (h_rate, h_bad) = load(&hello, hello_req, secs, conc).await;
    let (g_rate, g_bad) = load(&host, gda, secs, conc).await;
    // The same session's cheapest signed call, for what the pipeline itself costs.
    let gci = signed_for(
        "sts",
        &host,
        "GET",
        "/?Action=GetCallerIdentity&Version=2011-06-15",
        "",
        (&reader.0, &reader.1),
        Some(&reader.2),
    );
    let (c_rate, c_bad) = load(&host, gci, secs, conc).await;
    println!(
        "hyper hello: {h_rate:.0} req/s ({h_bad} failed); GetDataAccess: {g_rate:.0} req/s ({g_bad} failed); ratio {:.2}; GetCallerIdentity with the same session: {c_rate:.0} req/s ({c_bad} failed) ({conc} connections, {secs} s each, {grants} grants)",
        g_rate / h_rate
    );
}
