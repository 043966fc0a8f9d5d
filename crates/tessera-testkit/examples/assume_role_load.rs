//! AssumeRole requests per second over HTTP, against a real `tessera dev` on loopback.
//!
//! `cargo run --release -p tessera-testkit --example assume_role_load -- [SECONDS] [CONCURRENCY]`
//! (defaults 10 s, 16). Needs the release `tessera` binary (`cargo build --release --bin tessera`,
//! or `TESSERA_BIN`). Each request is signed by aws-sdk-sts; the loop is bounded in time.

use tessera_testkit::{DevServer, load};

#[tokio::main]
async fn main() {
    let (secs, conc) = load::secs_and_clients(10, 16);
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account("111111111111").clone();
    let cfg = server
        .sdk_config(&root.access_key_id, &root.secret_access_key)
        .await;
    let iam = aws_sdk_iam::Client::new(&cfg);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name("LoadRole")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    // Roles are assumed by an IAM user (the account root may not assume roles).
    iam.create_user().user_name("load").send().await.unwrap();
    iam.put_user_policy()
        .user_name("load")
        .policy_name("assume")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name("load")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let user_cfg = server
        .sdk_config(key.access_key_id(), key.secret_access_key())
        .await;
    let sts = aws_sdk_sts::Client::new(&user_cfg);
    // One call up front, so a misconfiguration fails loudly instead of counting failures.
    sts.assume_role()
        .role_arn("arn:aws:iam::111111111111:role/LoadRole")
        .role_session_name("warmup")
        .send()
        .await
        .expect("AssumeRole works before the load starts");
    let run = load::run(secs, conc, move |i, _| {
        let sts = sts.clone();
        async move {
            sts.assume_role()
                .role_arn("arn:aws:iam::111111111111:role/LoadRole")
                .role_session_name(format!("load-{i}"))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}"))
        }
    })
    .await;
    run.report("AssumeRole over HTTP");
}
