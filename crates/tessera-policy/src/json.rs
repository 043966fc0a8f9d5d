//! A minimal JSON tree that keeps object keys in document order and keeps
//! duplicate keys, so that validation can reject them (serde_json's `Value`
//! silently keeps the last one).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// A number, kept as its textual form (as serde_json prints it).
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub(crate) fn parse(doc: &str) -> Option<Json> {
        serde_json::from_str(doc).ok()
    }

    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }

    /// Compact JSON text, keys in their original order.
    pub(crate) fn to_compact_string(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        let quote = |out: &mut String, s: &str| {
            out.push_str(&serde_json::to_string(s).expect("strings serialise"));
        };
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => quote(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    quote(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// First key that occurs more than once in an object's entries.
    pub(crate) fn duplicate_key(entries: &[(String, Json)]) -> Option<&str> {
        for (i, (k, _)) in entries.iter().enumerate() {
            if entries[..i].iter().any(|(prev, _)| prev == k) {
                return Some(k);
            }
        }
        None
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            entries.push((k, v));
        }
        Ok(Json::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_duplicates() {
        let j = Json::parse(r#"{"b":1,"a":[true,null,"x"],"b":2.5}"#).unwrap();
        let Json::Object(entries) = j else {
            panic!("not an object")
        };
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0], ("b".to_owned(), Json::Number("1".into())));
        assert_eq!(
            entries[1].1,
            Json::Array(vec![Json::Bool(true), Json::Null, Json::String("x".into())])
        );
        assert_eq!(entries[2].1, Json::Number("2.5".into()));
        assert_eq!(Json::duplicate_key(&entries), Some("b"));
        assert_eq!(entries[1].1.type_name(), "array");
    }

    #[test]
    fn compact_round_trip_keeps_order() {
        let doc = r#"{ "b" : 1, "a" : [true, null, "x\"y"], "c": {"z": -2.5} }"#;
        let j = Json::parse(doc).unwrap();
        assert_eq!(
            j.to_compact_string(),
            r#"{"b":1,"a":[true,null,"x\"y"],"c":{"z":-2.5}}"#
        );
        assert_eq!(Json::parse(&j.to_compact_string()), Some(j));
    }

    #[test]
    fn rejects_invalid_json() {
        assert!(Json::parse("{").is_none());
        assert!(Json::parse("{} x").is_none());
        assert!(Json::parse("").is_none());
        assert!(Json::parse("-").is_none());
        assert_eq!(Json::parse("-3"), Some(Json::Number("-3".into())));
    }
}
