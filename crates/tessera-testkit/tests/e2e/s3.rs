//! The S3 API: boto3 (the whole API, its bad inputs included) and aws-sdk-rust (the data
//! plane, a 100 MiB multipart upload, ranges, conditions, presigned URLs), on the local
//! filesystem backend and with Garage upstream; and a `kill -9` during concurrent PUTs.

use crate::support::sdk::{read_object, s3_client};
use crate::support::{ROOT, boto3_script, script_ok, step_async};
use tessera_testkit::DevServer;

/// Run `s3_api.py` (boto3 over the whole S3 API, its bad inputs included) against `server`.
fn run_s3_api(server: &DevServer, bucket_prefix: &str, backend: &str) {
    let out = boto3_script("s3_api.py")
        .arg(&server.manifest_path)
        .arg(bucket_prefix)
        .arg(backend)
        .env("NO_PROXY", "")
        .env("no_proxy", "")
        .output()
        .unwrap_or_else(|e| panic!("running the test Python: {e}"));
    script_ok(out, "the boto3 S3 suite", "s3 api ok");
}

/// boto3 drives the S3 API with Garage keeping the objects (the upstream backend).
#[test]
fn boto3_s3_api_upstream_backend() {
    let dir = tempfile::tempdir().unwrap();
    let garage = tessera_testkit::GarageNode::start(dir.path());
    let server = DevServer::start_upstream(&dir.path().join("tessera"), &garage);
    run_s3_api(&server, "garage", "upstream");
}

/// boto3 drives the S3 API on the local filesystem backend.
#[test]
fn boto3_s3_api_local_backend() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    run_s3_api(&server, "local", "local");
    // Nothing is left in the object store's temp directory.
    let tmp = dir.path().join("objects").join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
}

/// aws-sdk-rust drives the S3 API (every operation of the data plane, a 100 MiB multipart
/// upload, ranged and conditional reads, presigned GET and PUT, bad inputs) against `server`.
async fn rust_sdk_s3_api(server: &DevServer, bucket: &str, upstream: bool) {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
    let s3 = s3_client(server, server.account(ROOT)).await;
    let code = |e: &dyn aws_sdk_s3::error::ProvideErrorMetadata| e.code().unwrap_or("").to_owned();
    step_async("buckets: create, head, list, locate; a bad name", async {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
        s3.head_bucket().bucket(bucket).send().await.unwrap();
        let names: Vec<String> = s3
            .list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_owned))
            .collect();
        assert!(names.contains(&bucket.to_owned()), "{names:?}");
        let loc = s3
            .get_bucket_location()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        assert!(
            loc.location_constraint()
                .is_none_or(|c| c.as_str().is_empty())
        );
        let e = s3
            .create_bucket()
            .bucket("Bad_Bucket")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(e.as_service_error().unwrap()), "InvalidBucketName");
    })
    .await;

    let (body, etag) = step_async(
        "objects: put, get and head with metadata; checksums verified",
        async {
            let body = b"rust sdk object\n".repeat(64);
            let put = s3
                .put_object()
                .bucket(bucket)
                .key("docs/r.txt")
                .content_type("text/plain")
                .metadata("team", "red")
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .unwrap();
            let etag = put.e_tag().unwrap().to_owned();
            let got = s3
                .get_object()
                .bucket(bucket)
                .key("docs/r.txt")
                .send()
                .await
                .unwrap();
            assert_eq!(got.content_type(), Some("text/plain"));
            assert_eq!(
                got.metadata().unwrap().get("team").map(String::as_str),
                Some("red")
            );
            assert_eq!(
                got.body.collect().await.unwrap().into_bytes().as_ref(),
                &body[..]
            );
            let head = s3
                .head_object()
                .bucket(bucket)
                .key("docs/r.txt")
                .send()
                .await
                .unwrap();
            assert_eq!(head.e_tag(), Some(etag.as_str()));
            assert_eq!(head.content_length(), Some(body.len() as i64));
            let e = s3
                .put_object()
                .bucket(bucket)
                .key("docs/bad.txt")
                .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
                .body(ByteStream::from_static(b"not empty"))
                .send()
                .await
                .unwrap_err();
            assert_eq!(code(e.as_service_error().unwrap()), "BadDigest");
            (body, etag)
        },
    )
    .await;

    step_async("ranges and conditions", async {
        let part = s3
            .get_object()
            .bucket(bucket)
            .key("docs/r.txt")
            .range("bytes=5-7")
            .send()
            .await
            .unwrap();
        assert_eq!(
            part.content_range(),
            Some(format!("bytes 5-7/{}", body.len()).as_str())
        );
        assert_eq!(
            part.body.collect().await.unwrap().into_bytes().as_ref(),
            &body[5..8]
        );
        let e = s3
            .get_object()
            .bucket(bucket)
            .key("docs/r.txt")
            .range(format!("bytes={}-", body.len()))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(e.as_service_error().unwrap()), "InvalidRange");
        let e = s3
            .get_object()
            .bucket(bucket)
            .key("docs/r.txt")
            .if_match("\"0000\"")
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.raw_response().unwrap().status().as_u16(), 412);
        let e = s3
            .get_object()
            .bucket(bucket)
            .key("docs/r.txt")
            .if_none_match(&etag)
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.raw_response().unwrap().status().as_u16(), 304);
        let e = s3
            .get_object()
            .bucket(bucket)
            .key("docs/none")
            .send()
            .await
            .unwrap_err();
        assert!(e.as_service_error().unwrap().is_no_such_key(), "{e:?}");
    })
    .await;

    step_async(
        "listings: v2 with a delimiter and pages, v1 with a marker",
        async {
            for k in ["l/a/1", "l/a/2", "l/b", "l/c"] {
                s3.put_object()
                    .bucket(bucket)
                    .key(k)
                    .body(ByteStream::from_static(b"x"))
                    .send()
                    .await
                    .unwrap();
            }
            let l = s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix("l/")
                .delimiter("/")
                .send()
                .await
                .unwrap();
            let keys: Vec<&str> = l.contents().iter().filter_map(|o| o.key()).collect();
            let prefixes: Vec<&str> = l
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix())
                .collect();
            assert_eq!((keys, prefixes), (vec!["l/b", "l/c"], vec!["l/a/"]));
            let pages: Vec<_> = s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix("l/")
                .max_keys(1)
                .into_paginator()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .unwrap();
            assert_eq!(pages.len(), 4, "one key per page");
            let after = s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix("l/")
                .start_after("l/b")
                .send()
                .await
                .unwrap();
            assert_eq!(after.contents().len(), 1);
            let v1 = s3
                .list_objects()
                .bucket(bucket)
                .prefix("l/")
                .marker("l/a/2")
                .send()
                .await
                .unwrap();
            let keys: Vec<&str> = v1.contents().iter().filter_map(|o| o.key()).collect();
            assert_eq!(keys, vec!["l/b", "l/c"]);
        },
    )
    .await;

    step_async(
        "copy with the metadata directive; delete one and many",
        async {
            s3.copy_object()
                .bucket(bucket)
                .key("copy/r.txt")
                .copy_source(format!("{bucket}/docs/r.txt"))
                .send()
                .await
                .unwrap();
            s3.copy_object()
                .bucket(bucket)
                .key("copy/r2.txt")
                .copy_source(format!("{bucket}/docs/r.txt"))
                .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
                .metadata("team", "blue")
                .send()
                .await
                .unwrap();
            let h = s3
                .head_object()
                .bucket(bucket)
                .key("copy/r2.txt")
                .send()
                .await
                .unwrap();
            assert_eq!(
                h.metadata().unwrap().get("team").map(String::as_str),
                Some("blue")
            );
            s3.delete_object()
                .bucket(bucket)
                .key("copy/r2.txt")
                .send()
                .await
                .unwrap();
            let del = s3
                .delete_objects()
                .bucket(bucket)
                .delete(
                    Delete::builder()
                        .objects(ObjectIdentifier::builder().key("l/a/1").build().unwrap())
                        .objects(ObjectIdentifier::builder().key("l/a/2").build().unwrap())
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(del.deleted().len(), 2);
        },
    )
    .await;

    step_async("a 100 MiB multipart upload, one part copied", async {
        // 100 MiB in 5 parts of 20 MiB (the last one copied from another object with
        // UploadPartCopy), listed, completed and read back in ranges.
        let mib = 1024 * 1024;
        let chunk: Vec<u8> = (0..20 * mib).map(|i| (i % 251) as u8).collect();
        let up = s3
            .create_multipart_upload()
            .bucket(bucket)
            .key("big/100mib")
            .send()
            .await
            .unwrap();
        let uid = up.upload_id().unwrap().to_owned();
        let mut parts = Vec::new();
        for n in 1..=4 {
            let p = s3
                .upload_part()
                .bucket(bucket)
                .key("big/100mib")
                .upload_id(&uid)
                .part_number(n)
                .body(ByteStream::from(chunk.clone()))
                .send()
                .await
                .unwrap();
            parts.push(
                CompletedPart::builder()
                    .part_number(n)
                    .e_tag(p.e_tag().unwrap())
                    .build(),
            );
        }
        s3.put_object()
            .bucket(bucket)
            .key("big/source")
            .body(ByteStream::from(chunk.clone()))
            .send()
            .await
            .unwrap();
        let pc = s3
            .upload_part_copy()
            .bucket(bucket)
            .key("big/100mib")
            .upload_id(&uid)
            .part_number(5)
            .copy_source(format!("{bucket}/big/source"))
            .copy_source_range(format!("bytes=0-{}", 20 * mib - 1))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(5)
                .e_tag(pc.copy_part_result().unwrap().e_tag().unwrap())
                .build(),
        );
        let listed = s3
            .list_parts()
            .bucket(bucket)
            .key("big/100mib")
            .upload_id(&uid)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.parts().len(), 5);
        let uploads = s3
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix("big/")
            .send()
            .await
            .unwrap();
        assert!(
            uploads
                .uploads()
                .iter()
                .any(|u| u.upload_id() == Some(uid.as_str()))
        );
        let done = s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key("big/100mib")
            .upload_id(&uid)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert!(
            done.e_tag().unwrap().ends_with("-5\""),
            "{:?}",
            done.e_tag()
        );
        let head = s3
            .head_object()
            .bucket(bucket)
            .key("big/100mib")
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(100 * mib as i64));
        for (start, len) in [
            (0usize, 10usize),
            (20 * mib - 3, 6),
            (100 * mib - 7, 7),
            (55 * mib, mib),
        ] {
            let r = s3
                .get_object()
                .bucket(bucket)
                .key("big/100mib")
                .range(format!("bytes={start}-{}", start + len - 1))
                .send()
                .await
                .unwrap();
            let got = r.body.collect().await.unwrap().into_bytes();
            let want: Vec<u8> = (start..start + len)
                .map(|i| ((i % (20 * mib)) % 251) as u8)
                .collect();
            assert_eq!(got.as_ref(), &want[..], "range at {start}");
        }
        let whole = read_object(&s3, bucket, "big/100mib").await;
        assert_eq!(whole.len(), 100 * mib);
        assert!(whole.chunks(20 * mib).all(|c| c == &chunk[..]));
    })
    .await;

    step_async("an aborted upload is gone", async {
        let ab = s3
            .create_multipart_upload()
            .bucket(bucket)
            .key("big/aborted")
            .send()
            .await
            .unwrap();
        s3.abort_multipart_upload()
            .bucket(bucket)
            .key("big/aborted")
            .upload_id(ab.upload_id().unwrap())
            .send()
            .await
            .unwrap();
        let e = s3
            .list_parts()
            .bucket(bucket)
            .key("big/aborted")
            .upload_id(ab.upload_id().unwrap())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload");
    })
    .await;

    step_async(
        "presigned GET and PUT, used by a plain HTTP client",
        async {
            let presign = aws_sdk_s3::presigning::PresigningConfig::expires_in(
                std::time::Duration::from_secs(300),
            )
            .unwrap();
            let url = s3
                .get_object()
                .bucket(bucket)
                .key("docs/r.txt")
                .presigned(presign.clone())
                .await
                .unwrap();
            let got = raw_http_get(url.uri()).await;
            assert_eq!(got, body);
            let put = s3
                .put_object()
                .bucket(bucket)
                .key("docs/presigned")
                .presigned(presign)
                .await
                .unwrap();
            http_put(put.uri(), b"presigned by the rust sdk").await;
            let got = s3
                .get_object()
                .bucket(bucket)
                .key("docs/presigned")
                .send()
                .await
                .unwrap();
            assert_eq!(
                got.body.collect().await.unwrap().into_bytes().as_ref(),
                b"presigned by the rust sdk"
            );
        },
    )
    .await;

    step_async(
        "hostile keys are objects of this bucket and nothing else",
        async {
            // Hostile keys are objects of this bucket and nothing else.
            let mut hostile = vec!["../../x", "a//b", "%2e%2e/y", ".."];
            if !upstream {
                hostile.push("/leading");
            }
            for k in &hostile {
                s3.put_object()
                    .bucket(bucket)
                    .key(*k)
                    .body(ByteStream::from(k.as_bytes().to_vec()))
                    .send()
                    .await
                    .unwrap();
                let got = s3.get_object().bucket(bucket).key(*k).send().await.unwrap();
                assert_eq!(
                    got.body.collect().await.unwrap().into_bytes().as_ref(),
                    k.as_bytes()
                );
            }
        },
    )
    .await;

    step_async("empty the bucket and delete it", async {
        let e = s3.delete_bucket().bucket(bucket).send().await.unwrap_err();
        assert_eq!(code(e.as_service_error().unwrap()), "BucketNotEmpty");
        let all: Vec<String> = s3
            .list_objects_v2()
            .bucket(bucket)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap()
            .iter()
            .flat_map(|p| {
                p.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned))
            })
            .collect();
        for k in all {
            s3.delete_object()
                .bucket(bucket)
                .key(k)
                .send()
                .await
                .unwrap();
        }
        s3.delete_bucket().bucket(bucket).send().await.unwrap();
    })
    .await;
}

/// GET `uri` with a bare HTTP/1.1 client; the body.
async fn raw_http_get(uri: &str) -> Vec<u8> {
    http_call("GET", uri, Vec::new()).await
}

async fn http_put(uri: &str, body: &[u8]) {
    http_call("PUT", uri, body.to_vec()).await;
}

async fn http_call(method: &str, uri: &str, body: Vec<u8>) -> Vec<u8> {
    use http_body_util::BodyExt;
    let uri: http::Uri = uri.parse().unwrap();
    let authority = uri.authority().unwrap().to_string();
    let stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(method)
        .uri(uri.path_and_query().unwrap().as_str())
        .header("host", &authority)
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    assert!(
        status.is_success(),
        "{method} {uri}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_s3_api_local_backend() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    rust_sdk_s3_api(&server, "rust-local", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_s3_api_upstream_backend() {
    let dir = tempfile::tempdir().unwrap();
    let garage = tessera_testkit::GarageNode::start(dir.path());
    let server = DevServer::start_upstream(&dir.path().join("tessera"), &garage);
    rust_sdk_s3_api(&server, "rust-garage", true).await;
}

/// Crash test: `kill -9` the server during 200 concurrent PUTs, restart it on the same data
/// directory: every acknowledged object reads back intact, no partial object is visible, and
/// no temp file is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_during_concurrent_puts_loses_nothing_acknowledged() {
    use aws_sdk_s3::primitives::ByteStream;
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let mut server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let s3 = s3_client(&server, &root).await;
    s3.create_bucket().bucket("crash").send().await.unwrap();
    // Each object's content is a function of its key, so any torn or mixed object shows.
    // Half are small (acknowledged early), half 2 MiB (in flight when the server dies).
    let content = |i: usize| -> Vec<u8> {
        let len = if i.is_multiple_of(2) {
            8 * 1024 + i
        } else {
            2 * 1024 * 1024 + i * 997
        };
        let unit = format!("object-{i:03}|");
        let mut v = unit.repeat(len / unit.len() + 1).into_bytes();
        v.truncate(len);
        v
    };
    // The bodies are made before the first request, so that the PUTs really run together.
    let bodies: Vec<Vec<u8>> = (0..200).map(content).collect();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let (s3, acked) = (s3.clone(), acked.clone());
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let r = s3
                .put_object()
                .bucket("crash")
                .key(format!("obj/{i:03}"))
                .body(ByteStream::from(body))
                .send()
                .await;
            if r.is_ok() {
                acked.lock().unwrap().push(i);
            }
        }));
    }
    // Kill once some, but not all, PUTs were acknowledged: watched from a thread of its own,
    // so that the busy client runtime cannot delay the kill.
    let killer = {
        let acked = acked.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while acked.lock().unwrap().len() < 60 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no PUT was acknowledged"
                );
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            server.kill9();
        })
    };
    killer.join().unwrap();
    for t in tasks {
        let _ = t.await;
    }
    let acked: Vec<usize> = acked.lock().unwrap().clone();
    assert!(
        acked.len() < 200,
        "every PUT finished before the kill; the test proves nothing"
    );
    let server = DevServer::start(dir.path());
    let s3 = s3_client(&server, &root).await;
    // Every acknowledged object is there, intact.
    for &i in &acked {
        let got = s3
            .get_object()
            .bucket("crash")
            .key(format!("obj/{i:03}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("acknowledged object {i} is gone: {e:?}"));
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert!(
            bytes.as_ref() == content(i).as_slice(),
            "object {i} is damaged"
        );
    }
    // Whatever else is visible is whole too (a PUT in flight may or may not have landed).
    let listed = s3.list_objects_v2().bucket("crash").send().await.unwrap();
    for o in listed.contents() {
        let i: usize = o.key().unwrap()[4..].parse().unwrap();
        assert_eq!(
            o.size(),
            Some(content(i).len() as i64),
            "partial object {i}"
        );
        let got = s3
            .get_object()
            .bucket("crash")
            .key(o.key().unwrap())
            .send()
            .await
            .unwrap();
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert!(
            bytes.as_ref() == content(i).as_slice(),
            "object {i} is damaged"
        );
    }
    assert!(listed.contents().len() >= acked.len());
    let tmp = dir.path().join("objects").join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "temp files left behind: {}", left.len());
    eprintln!(
        "crash test: {} of 200 PUTs acknowledged before the kill, {} objects visible after restart",
        acked.len(),
        listed.contents().len()
    );
}
