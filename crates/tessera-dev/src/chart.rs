//! A pie chart as inline SVG, drawn on the server (no script): one labelled slice per row, with
//! the numbers beside it for whoever cannot see the picture.

use crate::data::{Slice, dollars};
use crate::web::esc;
use std::f64::consts::PI;
use std::fmt::Write;

/// Colours with at least 3:1 contrast against white (slice borders and legend swatches).
pub const PALETTE: &[&str] = &[
    "#b91c1c", "#1d4ed8", "#047857", "#b45309", "#6d28d9", "#0e7490", "#be185d", "#4d7c0f",
];

/// The share of `part` in `total`, in tenths of a percent (rounded).
pub fn per_mille(part: u64, total: u64) -> u64 {
    (part * 1000 + total / 2).checked_div(total).unwrap_or(0)
}

pub fn percent_text(pm: u64) -> String {
    format!("{}.{}%", pm / 10, pm % 10)
}

/// The SVG of `slices` (largest first as given), titled `title`.
pub fn pie(title: &str, slices: &[Slice]) -> String {
    let total: u64 = slices.iter().map(|s| s.cents).sum();
    let (cx, cy, r) = (160.0_f64, 160.0_f64, 120.0_f64);
    let mut out = String::new();
    let desc: Vec<String> = slices
        .iter()
        .map(|s| {
            format!(
                "{} {} ({})",
                s.label,
                dollars(s.cents),
                percent_text(per_mille(s.cents, total))
            )
        })
        .collect();
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 320 320" width="320" height="320" role="img" aria-labelledby="chart-title chart-desc" class="pie"><title id="chart-title">{}</title><desc id="chart-desc">{}</desc>"#,
        esc(title),
        esc(&desc.join("; "))
    );
    if total == 0 {
        let _ = write!(
            out,
            r##"<circle cx="{cx}" cy="{cy}" r="{r}" fill="#e5e7eb"/><text x="{cx}" y="{cy}" text-anchor="middle" class="slice-label dark">No sales</text></svg>"##
        );
        return out;
    }
    let mut start = -PI / 2.0;
    for (i, s) in slices.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let frac = s.cents as f64 / total as f64;
        let sweep = frac * 2.0 * PI;
        let label = format!(
            "{}: {} ({})",
            s.label,
            dollars(s.cents),
            percent_text(per_mille(s.cents, total))
        );
        if frac >= 0.999_999 {
            let _ = write!(
                out,
                r##"<circle cx="{cx}" cy="{cy}" r="{r}" fill="{color}" stroke="#fff" stroke-width="2"><title>{}</title></circle>"##,
                esc(&label)
            );
        } else {
            let end = start + sweep;
            let (x1, y1) = (cx + r * start.cos(), cy + r * start.sin());
            let (x2, y2) = (cx + r * end.cos(), cy + r * end.sin());
            let large = if sweep > PI { 1 } else { 0 };
            let _ = write!(
                out,
                r##"<path d="M{cx:.2},{cy:.2} L{x1:.2},{y1:.2} A{r:.2},{r:.2} 0 {large} 1 {x2:.2},{y2:.2} Z" fill="{color}" stroke="#fff" stroke-width="2"><title>{}</title></path>"##,
                esc(&label)
            );
        }
        // Each slice big enough to hold it names its share inside.
        if frac >= 0.06 {
            let mid = start + sweep / 2.0;
            let (lx, ly) = (cx + r * 0.64 * mid.cos(), cy + r * 0.64 * mid.sin());
            let _ = write!(
                out,
                r#"<text x="{lx:.1}" y="{ly:.1}" text-anchor="middle" dominant-baseline="middle" class="slice-label">{}</text>"#,
                esc(&percent_text(per_mille(s.cents, total)))
            );
        }
        start += sweep;
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(label: &str, cents: u64) -> Slice {
        Slice {
            label: label.into(),
            cents,
            kilograms: 1,
        }
    }

    #[test]
    fn shares_add_up() {
        assert_eq!(per_mille(1, 3), 333);
        assert_eq!(per_mille(2, 3), 667);
        assert_eq!(per_mille(5, 0), 0);
        assert_eq!(percent_text(333), "33.3%");
    }

    #[test]
    fn slices_are_drawn_and_labelled() {
        let svg = pie("Tomato sales", &[slice("roma", 300), slice("cherry", 100)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.contains("roma: $3.00 (75.0%)"), "{svg}");
        assert!(svg.contains(">25.0%<"), "{svg}");
        // A single slice is a whole circle.
        let one = pie("x", &[slice("only", 5)]);
        assert!(one.contains("<circle") && !one.contains("<path"));
        assert!(pie("x", &[]).contains("No sales"));
        // Names are escaped.
        assert!(pie("<x>", &[slice("a&b", 1)]).contains("a&amp;b"));
    }
}
