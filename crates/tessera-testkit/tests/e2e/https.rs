//! HTTPS with the AWS CLI: `tessera dev --tls-cert … --tls-key …` (the `[tls]` listener)
//! with a certificate from a CA made here. The CLI trusts it through `AWS_CA_BUNDLE` and
//! refuses it without; STS and S3 (a bucket, an object written and read back) work over it.

use crate::support::cli::aws_cli;
use tessera_testkit::DevServer;

fn issue(dir: &std::path::Path) -> std::path::PathBuf {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "e2e test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    dir.join("ca.pem")
}

#[test]
fn the_aws_cli_over_https() {
    let work = tempfile::tempdir().unwrap();
    let ca = issue(work.path());
    let cert = work.path().join("cert.pem");
    let key = work.path().join("key.pem");
    let server = DevServer::start_with(
        &work.path().join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        server.manifest.endpoint.starts_with("https://127.0.0.1:"),
        "{}",
        server.manifest.endpoint
    );
    let root = server.account("111111111111").clone();
    let aws = |args: &[&str], trusted: bool| {
        let mut c = std::process::Command::new(aws_cli());
        c.args(args)
            .envs(server.cli_env(&root.access_key_id, &root.secret_access_key));
        if trusted {
            c.env("AWS_CA_BUNDLE", &ca);
        }
        let out = c.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = aws(&["sts", "get-caller-identity"], true);
    assert!(ok, "{err}");
    assert!(out.contains("arn:aws:iam::111111111111:root"), "{out}");
    // Without the CA the CLI does not trust the server.
    let (ok, _, err) = aws(&["sts", "get-caller-identity"], false);
    assert!(!ok && err.contains("SSL"), "{err}");
    let file = work.path().join("object.csv");
    std::fs::write(&file, "kind,count\ntomato,3\n").unwrap();
    for args in [
        &["s3", "mb", "s3://over-tls"][..],
        &[
            "s3",
            "cp",
            "--only-show-errors",
            file.to_str().unwrap(),
            "s3://over-tls/o.csv",
        ],
    ] {
        let (ok, _, err) = aws(args, true);
        assert!(ok, "{args:?}: {err}");
    }
    let (ok, out, err) = aws(&["s3", "cp", "s3://over-tls/o.csv", "-"], true);
    assert!(ok, "{err}");
    assert_eq!(out, "kind,count\ntomato,3\n");
}
