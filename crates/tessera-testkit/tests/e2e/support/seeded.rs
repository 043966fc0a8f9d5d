//! The world `tessera dev --with-demo` seeds, as these tests know it (independently of the
//! demo's own catalog): its datasets and what their charts must show.

use super::ROOT;
use super::sdk::{read_object, s3_client};
use tessera_testkit::DevServer;

/// The demo's datasets, as this test knows them (independently of the demo's own catalog).
pub const DEMO_DATASETS: &[(&str, &str)] = &[
    ("tomatoes", "projects/red/tomatoes/"),
    ("strawberries", "projects/red/strawberries/"),
    ("blueberries", "projects/blue/blueberries/"),
];

/// `12345` cents as `$123.45` with thousands separated (the pages' format).
pub fn dollars(cents: u64) -> String {
    let whole = (cents / 100).to_string();
    let mut out = String::from("$");
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{:02}", cents % 100)
}

/// What each dataset's chart must show, from the CSVs as the account root reads them: revenue
/// per variety (the newest month), and the total.
pub async fn demo_expectations(server: &DevServer) -> serde_json::Value {
    let s3 = s3_client(server, server.account(ROOT)).await;
    let mut out = serde_json::Map::new();
    for (id, prefix) in DEMO_DATASETS {
        let listed = s3
            .list_objects_v2()
            .bucket("example-bucket")
            .prefix(*prefix)
            .send()
            .await
            .unwrap();
        let keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        let month = keys
            .iter()
            .filter_map(|k| k.strip_prefix(prefix)?.split('/').next().map(str::to_owned))
            .max()
            .expect("seeded data");
        let mut rows = Vec::new();
        let mut total = 0u64;
        for k in keys
            .iter()
            .filter(|k| k.starts_with(&format!("{prefix}{month}/")))
        {
            let body = read_object(&s3, "example-bucket", k).await;
            let text = String::from_utf8(body.to_vec()).unwrap();
            let mut cents = 0u64;
            for line in text.lines().skip(1) {
                let revenue = line.rsplit(',').next().unwrap();
                let (d, c) = revenue.split_once('.').unwrap();
                cents +=
                    d.parse::<u64>().unwrap() * 100 + format!("{c:0<2}").parse::<u64>().unwrap();
            }
            total += cents;
            let variety = k.rsplit('/').next().unwrap().trim_end_matches(".csv");
            rows.push(serde_json::json!([variety, dollars(cents)]));
        }
        assert!(rows.len() >= 4, "{id}: {rows:?}");
        out.insert(
            (*id).to_owned(),
            serde_json::json!({"prefix": format!("{prefix}{month}/"), "total": dollars(total), "rows": rows}),
        );
    }
    serde_json::Value::Object(out)
}
