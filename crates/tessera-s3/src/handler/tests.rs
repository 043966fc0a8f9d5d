//! Unit tests of bucket names, keys, content codings and continuation tokens.

use super::*;

#[test]
fn bucket_names_follow_s3_rules() {
    for ok in ["abc", "example-bucket", "a.b.c", "123", "my-bucket-2026"] {
        assert!(valid_bucket_name(ok), "{ok}");
    }
    for bad in [
        "ab",
        "Bad_Bucket",
        "UPPER",
        "-lead",
        "trail-",
        "a..b",
        "a.-b",
        "192.168.1.1",
        "xn--punycode",
        "name-s3alias",
        &"a".repeat(64),
        "with space",
        "../etc",
    ] {
        assert!(!valid_bucket_name(bad), "{bad}");
    }
}

#[test]
fn keys_are_bounded() {
    assert!(check_key(&"k".repeat(1024)).is_ok());
    assert_eq!(
        *check_key(&"k".repeat(1025)).unwrap_err().code(),
        S3ErrorCode::KeyTooLongError
    );
    assert!(check_key("a\0b").is_err());
    assert!(
        check_key("../../x").is_ok(),
        "a legal S3 key, stored by hash"
    );
}

#[test]
fn aws_chunked_leaves_the_other_codings_as_sent() {
    for (sent, kept) in [
        ("gzip", Some("gzip")),
        ("deflate, gzip", Some("deflate, gzip")),
        ("gzip, aws-chunked", Some("gzip")),
        ("aws-chunked, gzip", Some("gzip")),
        ("aws-chunked,gzip", Some("gzip")),
        ("gzip, aws-chunked, br", Some("gzip, br")),
        ("AWS-CHUNKED", None),
        ("aws-chunked, aws-chunked", None),
    ] {
        assert_eq!(strip_aws_chunked(sent).as_deref(), kept, "{sent}");
    }
}

#[test]
fn continuation_tokens_round_trip() {
    for k in ["a", "projects/red/ü", ""] {
        assert_eq!(continuation_decode(&continuation_encode(k)).unwrap(), k);
    }
    assert!(continuation_decode("!!").is_err());
    assert_eq!(url_encode("a b/c+d"), "a%20b/c%2Bd");
}
