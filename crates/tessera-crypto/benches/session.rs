//! Session-token verification: open (AEAD + claims decode) and derive the secret.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera_crypto::session::{KeyRing, RingKey, SessionClaims, session_access_key_id};

fn bench(c: &mut Criterion) {
    let ring = KeyRing::new(&[RingKey::generate(1, 0), RingKey::generate(2, 1)]).unwrap();
    let claims = SessionClaims {
        access_key_id: session_access_key_id(),
        account: "111111111111".into(),
        role_name: "IdentityBearerRole".into(),
        role_id: "AROAEXAMPLE000000001".into(),
        role_path: "/".into(),
        session_name: "webapp".into(),
        issued_at: 1_700_000_000,
        expires_at: 1_700_003_600,
        source_identity: Some("mateo.jackson".into()),
        policy: Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetDataAccess","Resource":"*"}]}"#.into()),
        policy_arns: vec![],
        tags: vec![("team".into(), "data".into())],
        transitive_tag_keys: vec![],
        chain_depth: 1,
        web_identity: None,
        identity_context: None,
        grant: None,
    };
    let (token, _) = ring.issue(&claims);
    c.bench_function("session_token_open", |b| {
        b.iter(|| ring.open(black_box(&token)).unwrap())
    });
    c.bench_function("session_token_issue", |b| {
        b.iter(|| ring.issue(black_box(&claims)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
