//! The demo's data: a catalog of datasets (which S3 prefix holds what), and this month's sales
//! CSVs that `tessera dev` puts into `example-bucket` — one object per variety, one row per day:
//! `date,store,kilograms,revenue_usd`. The numbers are made from a hash of the variety and the
//! day, so every run makes the same ones.

use sha2::{Digest, Sha256};

/// The bucket of the seeds.
pub const BUCKET: &str = "example-bucket";

/// One dataset the application can chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dataset {
    /// Its id in URLs (`/datasets/tomatoes`).
    pub id: &'static str,
    pub title: &'static str,
    /// The key prefix in [`BUCKET`].
    pub prefix: &'static str,
    /// The group whose grant covers it (for the world's seeding).
    pub group: &'static str,
    /// The objects, by variety.
    pub varieties: &'static [&'static str],
}

impl Dataset {
    /// `s3://example-bucket/<prefix>`: what GetDataAccess is asked for.
    pub fn target(&self) -> String {
        format!("s3://{BUCKET}/{}", self.prefix)
    }
}

pub const CATALOG: &[Dataset] = &[
    Dataset {
        id: "tomatoes",
        title: "Tomato sales",
        prefix: "projects/red/tomatoes/",
        group: crate::RED_GROUP,
        varieties: &[
            "roma",
            "cherry",
            "beefsteak",
            "heirloom",
            "plum",
            "green-zebra",
        ],
    },
    Dataset {
        id: "strawberries",
        title: "Strawberry sales",
        prefix: "projects/red/strawberries/",
        group: crate::RED_GROUP,
        varieties: &["albion", "chandler", "seascape", "alpine"],
    },
    Dataset {
        id: "blueberries",
        title: "Blueberry sales",
        prefix: "projects/blue/blueberries/",
        group: crate::BLUE_GROUP,
        varieties: &["highbush", "lowbush", "rabbiteye", "half-high"],
    },
];

pub fn dataset(id: &str) -> Option<&'static Dataset> {
    CATALOG.iter().find(|d| d.id == id)
}

const STORES: &[&str] = &["north", "harbor", "market-hall"];

/// A number in `lo..hi` from the hash of `seed`.
fn pick(seed: &str, lo: u64, hi: u64) -> u64 {
    let h = Sha256::digest(seed.as_bytes());
    let n = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
    lo + n % (hi - lo)
}

/// The CSV of `variety` for the month of `today` (`YYYY-MM-DD`), up to that day.
pub fn sales_csv(variety: &str, year: i32, month: u32, days: u32) -> String {
    let mut out = String::from("date,store,kilograms,revenue_usd\n");
    for day in 1..=days {
        for store in STORES {
            let seed = format!("{variety}/{store}/{year}-{month:02}-{day:02}");
            let kg = pick(&seed, 4, 60);
            // Price per kilogram, in cents, steady per variety.
            let cents = pick(variety, 250, 900);
            let revenue = kg * cents;
            out.push_str(&format!(
                "{year}-{month:02}-{day:02},{store},{kg},{}.{:02}\n",
                revenue / 100,
                revenue % 100
            ));
        }
    }
    out
}

/// One slice of a chart: a variety's total revenue, in cents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub label: String,
    pub cents: u64,
    pub kilograms: u64,
}

/// Sum a sales CSV: revenue (cents) and kilograms. Rows that do not parse are skipped, and
/// counted in the second value.
pub fn sum_csv(text: &str) -> ((u64, u64), usize) {
    let mut cents = 0u64;
    let mut kg = 0u64;
    let mut bad = 0;
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split(',').collect();
        let parsed = (cols.len() == 4)
            .then(|| {
                let k: u64 = cols[2].trim().parse().ok()?;
                let (d, c) = cols[3]
                    .trim()
                    .split_once('.')
                    .unwrap_or((cols[3].trim(), "0"));
                let c = format!("{c:0<2}");
                let v = d.parse::<u64>().ok()? * 100 + c.get(..2)?.parse::<u64>().ok()?;
                Some((k, v))
            })
            .flatten();
        match parsed {
            Some((k, v)) => {
                kg += k;
                cents += v;
            }
            None => bad += 1,
        }
    }
    ((cents, kg), bad)
}

/// `12345` cents as `$123.45`, with thousands separated.
pub fn dollars(cents: u64) -> String {
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("${grouped}.{:02}", cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csvs_are_stable_and_sum() {
        let a = sales_csv("roma", 2026, 12, 6);
        assert_eq!(a, sales_csv("roma", 2026, 12, 6));
        assert_ne!(a, sales_csv("cherry", 2026, 12, 6));
        assert_eq!(a.lines().count(), 1 + 6 * STORES.len());
        let ((cents, kg), bad) = sum_csv(&a);
        assert_eq!(bad, 0);
        assert!(cents > 0 && kg > 0);
        let ((c2, k2), bad) =
            sum_csv("date,store,kilograms,revenue_usd\n2026-12-01,north,3,12.5\nnope\n");
        assert_eq!((c2, k2, bad), (1250, 3, 1));
    }

    #[test]
    fn money() {
        assert_eq!(dollars(0), "$0.00");
        assert_eq!(dollars(12345), "$123.45");
        assert_eq!(dollars(123456789), "$1,234,567.89");
    }

    #[test]
    fn catalog() {
        assert_eq!(
            dataset("tomatoes").unwrap().target(),
            "s3://example-bucket/projects/red/tomatoes/"
        );
        assert!(dataset("nope").is_none());
    }
}
