//! awsQuery parameters: `Action=…&Version=…&List.member.1=…` from a form body and/or the URL
//! query string.
//!
//! Decoding is strict: `+` is a space, `%XX` must be well formed, the decoded bytes must be
//! UTF-8, and a parameter may appear only once across body and query string.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Malformed(String),
    #[error("Parameter {0} is not valid UTF-8")]
    InvalidUtf8(String),
    #[error("Duplicate parameter: {0}")]
    Duplicate(String),
    #[error("The request must contain the parameter {0}")]
    Missing(String),
    #[error("Invalid list member index in parameter {0}")]
    BadIndex(String),
}

/// Decoded awsQuery parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    map: BTreeMap<String, String>,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode one form component (`+` → space, `%XX` → byte) into UTF-8.
pub fn decode_component(s: &str) -> Result<String, QueryError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let (Some(h), Some(l)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(QueryError::Malformed(String::new()));
                };
                out.push(h << 4 | l);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    // The caller names the parameter in the error; the value itself may be a secret (a
    // session or identity token) and is never echoed.
    String::from_utf8(out).map_err(|_| QueryError::InvalidUtf8(String::new()))
}

impl QueryParams {
    /// Parse and merge the given sources (e.g. the URL query string and a form body).
    pub fn parse(sources: &[&[u8]]) -> Result<QueryParams, QueryError> {
        let mut map = BTreeMap::new();
        for src in sources {
            let text =
                std::str::from_utf8(src).map_err(|_| QueryError::InvalidUtf8("request".into()))?;
            for pair in text.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let k = decode_component(k).map_err(|e| match e {
                    QueryError::InvalidUtf8(_) => {
                        QueryError::InvalidUtf8("a parameter name".into())
                    }
                    _ => QueryError::Malformed(
                        "Malformed percent-encoding in a parameter name".into(),
                    ),
                })?;
                let v = decode_component(v).map_err(|e| match e {
                    QueryError::InvalidUtf8(_) => QueryError::InvalidUtf8(k.clone()),
                    _ => QueryError::Malformed(format!(
                        "Malformed percent-encoding in the value of parameter {k}"
                    )),
                })?;
                if k.is_empty() {
                    return Err(QueryError::Malformed("Empty parameter name".into()));
                }
                if map.contains_key(&k) {
                    return Err(QueryError::Duplicate(k));
                }
                map.insert(k, v);
            }
        }
        Ok(QueryParams { map })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    pub fn require(&self, name: &str) -> Result<&str, QueryError> {
        self.get(name)
            .ok_or_else(|| QueryError::Missing(name.to_owned()))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `Prefix.member.1`, `Prefix.member.2`, … in index order. Indexes must be 1..=n without gaps.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, QueryError> {
        let head = format!("{prefix}.member.");
        let mut items: Vec<(usize, &str)> = Vec::new();
        for (k, v) in self.map.range(head.clone()..) {
            let Some(rest) = k.strip_prefix(&head) else {
                break;
            };
            if rest.contains('.') {
                continue;
            }
            let n: usize = rest.parse().map_err(|_| QueryError::BadIndex(k.clone()))?;
            items.push((n, v));
        }
        Ok(Self::ordered(items, prefix)?
            .into_iter()
            .map(str::to_owned)
            .collect())
    }

    /// `Prefix.member.N.Field` structures, e.g. `Tags.member.1.Key` / `.Value`, in index order.
    pub fn struct_list(&self, prefix: &str) -> Result<Vec<BTreeMap<String, String>>, QueryError> {
        let head = format!("{prefix}.member.");
        let mut by_index: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in self.map.range(head.clone()..) {
            let Some(rest) = k.strip_prefix(&head) else {
                break;
            };
            let Some((n, field)) = rest.split_once('.') else {
                return Err(QueryError::BadIndex(k.clone()));
            };
            let n: usize = n.parse().map_err(|_| QueryError::BadIndex(k.clone()))?;
            by_index
                .entry(n)
                .or_default()
                .insert(field.to_owned(), v.clone());
        }
        let items: Vec<(usize, BTreeMap<String, String>)> = by_index.into_iter().collect();
        Self::ordered(items, prefix)
    }

    fn ordered<T>(mut items: Vec<(usize, T)>, prefix: &str) -> Result<Vec<T>, QueryError> {
        items.sort_by_key(|(n, _)| *n);
        for (i, (n, _)) in items.iter().enumerate() {
            if *n != i + 1 {
                return Err(QueryError::BadIndex(format!("{prefix}.member.{n}")));
            }
        }
        Ok(items.into_iter().map(|(_, v)| v).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_form_and_query() {
        let p = QueryParams::parse(&[
            b"Action=CreateRole",
            b"RoleName=R&AssumeRolePolicyDocument=%7B%22a%22%3A+1%7D",
        ])
        .unwrap();
        assert_eq!(p.get("Action"), Some("CreateRole"));
        assert_eq!(p.get("AssumeRolePolicyDocument"), Some("{\"a\": 1}"));
        assert_eq!(p.require("Nope"), Err(QueryError::Missing("Nope".into())));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            QueryParams::parse(&[b"A=1&A=2"]),
            Err(QueryError::Duplicate(_))
        ));
        assert!(matches!(
            QueryParams::parse(&[b"A=1", b"A=1"]),
            Err(QueryError::Duplicate(_))
        ));
        assert!(matches!(
            QueryParams::parse(&[b"A=%ZZ"]),
            Err(QueryError::Malformed(_))
        ));
        assert!(matches!(
            QueryParams::parse(&[b"A=%F"]),
            Err(QueryError::Malformed(_))
        ));
        assert!(matches!(
            QueryParams::parse(&[b"A=%FF%FE"]),
            Err(QueryError::InvalidUtf8(_))
        ));
        assert!(matches!(
            QueryParams::parse(&[b"A=\xff"]),
            Err(QueryError::InvalidUtf8(_))
        ));
        assert!(matches!(
            QueryParams::parse(&[b"=1"]),
            Err(QueryError::Malformed(_))
        ));
    }

    #[test]
    fn lists_and_structs() {
        let p = QueryParams::parse(&[
            b"ClientIDList.member.2=b&ClientIDList.member.1=a&ClientIDList.member.10=j&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Key=k2",
        ])
        .unwrap();
        assert!(
            matches!(p.list("ClientIDList"), Err(QueryError::BadIndex(_))),
            "gap 3..9"
        );
        let p = QueryParams::parse(&[b"L.member.2=b&L.member.1=a&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Key=k2"]).unwrap();
        assert_eq!(p.list("L").unwrap(), ["a", "b"]);
        assert!(p.list("Missing").unwrap().is_empty());
        let tags = p.struct_list("Tags").unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0]["Key"], "k");
        assert_eq!(tags[0]["Value"], "v");
        assert!(!tags[1].contains_key("Value"));
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = QueryParams::parse(&[&b]);
        }

        #[test]
        fn round_trips_encoded_values(k in "[A-Za-z][A-Za-z0-9.]{0,20}", v in any::<String>()) {
            let enc: String = form_urlencoded::Serializer::new(String::new()).append_pair(&k, &v).finish();
            let p = QueryParams::parse(&[enc.as_bytes()]).unwrap();
            prop_assert_eq!(p.get(&k), Some(v.as_str()));
        }
    }
}
