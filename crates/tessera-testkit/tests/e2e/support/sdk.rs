//! aws-sdk-rust against a `tessera dev`: clients, sessions and error codes.

use tessera_testkit::{AccountKeys, DevServer};

/// The error code of an SDK error (empty when there is none).
pub fn code<E: aws_sdk_iam::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("").to_owned()
}

/// An SDK configuration with the root keys of `account`.
pub async fn account_config(server: &DevServer, account: &str) -> aws_config::SdkConfig {
    let k = server.account(account);
    server
        .sdk_config(&k.access_key_id, &k.secret_access_key)
        .await
}

/// An SDK configuration with temporary credentials from STS.
pub async fn session_config(
    server: &DevServer,
    c: &aws_sdk_sts::types::Credentials,
) -> aws_config::SdkConfig {
    server
        .sdk_session_config(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token()),
        )
        .await
}

/// An STS client with an IAM user's access key.
pub async fn sts_with(
    server: &DevServer,
    k: &aws_sdk_iam::types::AccessKey,
) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::new(
        &server
            .sdk_config(k.access_key_id(), k.secret_access_key())
            .await,
    )
}

/// A new IAM user `name` with an access key, and the inline policy `policy` = (name,
/// document) if any: (the user, its key).
pub async fn new_user(
    iam: &aws_sdk_iam::Client,
    name: &str,
    policy: Option<(&str, &str)>,
) -> (aws_sdk_iam::types::User, aws_sdk_iam::types::AccessKey) {
    let user = iam.create_user().user_name(name).send().await.unwrap();
    if let Some((policy_name, document)) = policy {
        iam.put_user_policy()
            .user_name(name)
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .unwrap();
    }
    let k = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap();
    (
        user.user().unwrap().clone(),
        k.access_key().unwrap().clone(),
    )
}

/// Create the role `name` with the trust policy `trust`.
pub async fn create_role(iam: &aws_sdk_iam::Client, name: &str, trust: &str) {
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
}

/// An STS client with the credentials of an STS answer (a role session).
pub async fn sts_session(
    server: &DevServer,
    c: &aws_sdk_sts::types::Credentials,
) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::new(&session_config(server, c).await)
}

/// AssumeRole of `role_arn` as the session `session`, to be sent.
pub fn assume_role(
    sts: &aws_sdk_sts::Client,
    role_arn: &str,
    session: &str,
) -> aws_sdk_sts::operation::assume_role::builders::AssumeRoleFluentBuilder {
    sts.assume_role()
        .role_arn(role_arn)
        .role_session_name(session)
}

/// The trust policy of `role`, as GetRole shows it (URL-decoded).
pub async fn trust_policy_of(iam: &aws_sdk_iam::Client, role: &str) -> String {
    let shown = iam.get_role().role_name(role).send().await.unwrap();
    percent_decode(shown.role().unwrap().assume_role_policy_document().unwrap())
}

/// The whole object `key` of `bucket`, which must be there.
pub async fn read_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> bytes::Bytes {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes()
}

/// A path-style S3 client of `server` with `keys`.
pub async fn s3_client(server: &DevServer, keys: &AccountKeys) -> aws_sdk_s3::Client {
    let cfg = server
        .sdk_config(&keys.access_key_id, &keys.secret_access_key)
        .await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cfg)
            .force_path_style(true)
            .build(),
    )
}

/// IAM returns policy documents URL-encoded; the Rust SDK hands them over as they are.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}
