//! Query-decoder fuzzing: no panic, no hang (nextest's slow-test timeout ends a hung case),
//! every rejection a typed [`QueryError`] whose message never echoes a parameter value (values
//! may be tokens).

use proptest::prelude::*;
use tessera_wire::query::{QueryError, QueryParams};

/// How many cases each fuzz test runs: `TESSERA_FUZZ_CASES`, default 1,000 (the closing notes
/// report runs with 100,000).
fn fuzz_cases() -> u32 {
    std::env::var("TESSERA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

const MARKER: &str = "TOPSECRETVALUE";

fn typed(e: &QueryError) -> Result<(), TestCaseError> {
    let m = e.to_string();
    prop_assert!(!m.is_empty());
    prop_assert!(!m.contains(MARKER), "a value was echoed: {m}");
    Ok(())
}

/// A parameter name of the awsQuery shapes (`Action`, `Tags.member.3.Key`, …), sometimes broken.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Action".to_owned()),
        Just("Version".to_owned()),
        "[A-Za-z]{1,8}(\\.member\\.[0-9]{1,3}(\\.[A-Za-z]{1,5})?)?",
        "[A-Za-z.%0-9+]{0,12}",
        "[A-Za-z]{1,6}\\.member\\.(0|-1|99999999999999999999|x|)",
    ]
}

/// A value carrying the marker, encoded well or badly.
fn value() -> impl Strategy<Value = String> {
    (
        "[ -~]{0,20}",
        prop_oneof![
            Just(""),
            Just("%"),
            Just("%G0"),
            Just("%C3%28"),
            Just("%FF"),
            Just("+"),
            Just("%E2%82%AC")
        ],
    )
        .prop_map(|(s, tail)| {
            let enc: String =
                form_urlencoded::byte_serialize(format!("{MARKER}{s}").as_bytes()).collect();
            format!("{enc}{tail}")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(query in prop::collection::vec(any::<u8>(), 0..300), body in prop::collection::vec(any::<u8>(), 0..300)) {
        match QueryParams::parse(&[&query, &body]) {
            Ok(p) => {
                for (k, _) in p.iter() {
                    let _ = p.list(k);
                    let _ = p.struct_list(k);
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn query_shaped_input(pairs in prop::collection::vec((name(), value(), any::<bool>()), 0..12), split in any::<prop::sample::Index>()) {
        let text = pairs
            .iter()
            .map(|(k, v, eq)| if *eq { format!("{k}={v}") } else { k.clone() })
            .collect::<Vec<_>>()
            .join("&");
        let at = split.index(text.len() + 1);
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let (a, b) = text.split_at(at);
        match QueryParams::parse(&[a.as_bytes(), b.as_bytes()]) {
            Ok(p) => {
                for prefix in ["Tags", "PolicyArns", "ClientIDList", "ProvidedContexts"] {
                    if let Err(e) = p.list(prefix) { typed(&e)?; }
                    if let Err(e) = p.struct_list(prefix) { typed(&e)?; }
                }
                for (k, _) in p.iter() {
                    if let Err(e) = p.list(k) { typed(&e)?; }
                    if let Err(e) = p.struct_list(k) { typed(&e)?; }
                }
            }
            Err(e) => typed(&e)?,
        }
    }
}
