//! Unit tests of listing and of objects on disk across a reopen.

use super::*;

fn index(keys: &[&str]) -> BTreeMap<String, Arc<ObjectMeta>> {
    keys.iter()
        .map(|k| {
            (
                (*k).to_owned(),
                Arc::new(ObjectMeta {
                    key: (*k).to_owned(),
                    size: 1,
                    etag: "e".into(),
                    last_modified_ms: 0,
                    headers: ObjectHeaders::default(),
                    checksums: BTreeMap::new(),
                    parts: None,
                    part_sizes: Vec::new(),
                }),
            )
        })
        .collect()
}

fn names(l: &Listing) -> (Vec<String>, Vec<String>) {
    (
        l.objects.iter().map(|o| o.key.clone()).collect(),
        l.common_prefixes.clone(),
    )
}

#[test]
fn listing_groups_pages_and_resumes() {
    let idx = index(&["a/1", "a/2", "b", "c/x/1", "c/y", "d"]);
    let q = |prefix, delimiter, after, max_keys| ListQuery {
        prefix,
        delimiter,
        after,
        max_keys,
    };
    let l = list_index(&idx, &q("", Some("/"), None, 1000));
    assert_eq!(
        names(&l),
        (vec!["b".into(), "d".into()], vec!["a/".into(), "c/".into()])
    );
    assert!(!l.truncated);
    // Pages of two, each resuming after the last entry returned.
    let p1 = list_index(&idx, &q("", Some("/"), None, 2));
    assert_eq!(names(&p1), (vec!["b".into()], vec!["a/".into()]));
    assert!(p1.truncated);
    let p2 = list_index(&idx, &q("", Some("/"), p1.last.as_deref(), 2));
    assert_eq!(names(&p2), (vec!["d".into()], vec!["c/".into()]));
    assert!(!p2.truncated);
    let l = list_index(&idx, &q("c/", Some("/"), None, 1000));
    assert_eq!(names(&l), (vec!["c/y".into()], vec!["c/x/".into()]));
    let l = list_index(&idx, &q("", None, Some("b"), 1000));
    assert_eq!(l.objects.len(), 3);
    let l = list_index(&idx, &q("a", None, None, 1));
    assert_eq!(names(&l).0, vec!["a/1".to_owned()]);
    assert!(l.truncated);
    assert!(list_index(&idx, &q("", None, None, 0)).objects.is_empty());
}

#[tokio::test]
async fn objects_survive_reopen_and_keys_never_name_paths() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FsBackend::open(dir.path()).await.unwrap();
    fs.create_bucket("b1", "111111111111").await.unwrap();
    let hostile = [
        "../../etc/passwd",
        "/abs",
        "a//b",
        "%2e%2e/x",
        "x\u{0}y",
        "..",
    ];
    for k in hostile {
        let body: ByteStream = Box::pin(futures::stream::once(async move {
            Ok(bytes::Bytes::from(k.as_bytes().to_vec()))
        }));
        let new = NewObject {
            headers: ObjectHeaders::default(),
            checksums: BTreeMap::new(),
            length: None,
        };
        fs.put_object("b1", k, body, new).await.unwrap();
    }
    // Nothing was written outside the bucket's object directory.
    for e in walk(dir.path()) {
        let rel = e
            .strip_prefix(dir.path())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            rel.starts_with("buckets/b1/o/") || rel == "buckets/b1/bucket.json",
            "{rel}"
        );
    }
    drop(fs);
    let fs = FsBackend::open(dir.path()).await.unwrap();
    for k in hostile {
        let mut r = fs
            .get_object("b1", k, None, &Conditions::default())
            .await
            .unwrap();
        let mut got = Vec::new();
        while let Some(c) = r.body.next().await {
            got.extend_from_slice(&c.unwrap());
        }
        assert_eq!(got, k.as_bytes());
    }
    assert!(matches!(
        fs.delete_bucket("b1").await.unwrap_err().code(),
        S3ErrorCode::BucketNotEmpty
    ));
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
