//! The demo's pages: one calm layout, readable on a phone, nothing loaded from elsewhere.

use crate::web::esc;

/// Who is signed in, for the header.
pub struct Viewer<'a> {
    pub name: &'a str,
}

const STYLE: &str = r#"
:root { --ink: #1f2937; --muted: #4b5563; --line: #d1d5db; --paper: #ffffff; --bg: #f5f7f6; --accent: #0f5132; --accent-ink: #ffffff; --red: #991b1b; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; color: var(--ink); background: var(--bg); line-height: 1.5; }
a { color: #0b5394; }
a:focus-visible, button:focus-visible, select:focus-visible { outline: 3px solid #b45309; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--paper); padding: .5rem; }
.skip:focus { left: .5rem; }
header { background: var(--accent); color: var(--accent-ink); }
header .bar { max-width: 64rem; margin: 0 auto; padding: .75rem 1rem; display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; justify-content: space-between; }
header a { color: var(--accent-ink); }
.brand { font-weight: 700; font-size: 1.1rem; text-decoration: none; }
nav ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .25rem 1rem; align-items: center; }
nav form { margin: 0; }
nav button, .button { font: inherit; font-weight: 600; background: var(--paper); color: var(--accent); border: 0; border-radius: .4rem; padding: .35rem .8rem; cursor: pointer; text-decoration: none; display: inline-block; }
.button.primary { background: var(--accent); color: var(--accent-ink); padding: .6rem 1.2rem; }
main { max-width: 64rem; margin: 0 auto; padding: 1.25rem 1rem 3rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.15rem; margin-top: 1.75rem; }
.card { background: var(--paper); border: 1px solid var(--line); border-radius: .75rem; padding: 1rem 1.25rem; margin: 1rem 0; }
.datasets { list-style: none; padding: 0; display: grid; gap: .75rem; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); }
.datasets li { background: var(--paper); border: 1px solid var(--line); border-radius: .75rem; padding: .9rem 1rem; }
.datasets .title { font-weight: 600; font-size: 1.05rem; }
.muted { color: var(--muted); }
.chart { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
.chart svg { max-width: 100%; height: auto; }
.slice-label { font-size: 13px; font-weight: 700; fill: #ffffff; }
.slice-label.dark { fill: var(--ink); }
.legend { list-style: none; padding: 0; margin: 0; }
.legend li { display: flex; gap: .5rem; align-items: center; margin: .3rem 0; }
.swatch { width: .9rem; height: .9rem; border-radius: .2rem; display: inline-block; flex: none; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: var(--paper); }
caption { text-align: left; font-weight: 600; padding: .4rem 0; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.refused { border-left: 6px solid var(--red); }
.refused-text { color: var(--red); font-weight: 600; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .92em; overflow-wrap: anywhere; }
label { font-weight: 600; }
select { font: inherit; padding: .3rem; }
@media (max-width: 30rem) { th, td { padding: .4rem .3rem; font-size: .92rem; } main { padding: 1rem .75rem 2rem; } }
footer { max-width: 64rem; margin: 0 auto; padding: 0 1rem 2rem; color: var(--muted); font-size: .9rem; }
"#;

/// A whole page.
pub fn layout(title: &str, viewer: Option<Viewer<'_>>, body: &str) -> String {
    let nav = match viewer {
        Some(v) => format!(
            r#"<nav aria-label="Main"><ul><li><a href="/datasets">Datasets</a></li><li><a href="/audit">Who read what</a></li><li><span class="who">{}</span></li><li><form method="post" action="/signout"><button type="submit">Sign out</button></form></li></ul></nav>"#,
            esc(v.name)
        ),
        None => String::from(
            r#"<nav aria-label="Main"><ul><li><a href="/signin">Sign in</a></li></ul></nav>"#,
        ),
    };
    format!(
        r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — Example Corp sales data</title>
<style>{STYLE}</style></head>
<body><a class="skip" href="#main">Skip to content</a>
<header><div class="bar"><a class="brand" href="/">Example Corp sales data</a>{nav}</div></header>
<main id="main">
<h1>{title}</h1>
{body}
</main>
<footer><p>A demo data application of <code>tessera dev</code>: it reads S3 data on the signed-in person's behalf through S3 Access Grants, as the seeds describe. Not for production.</p></footer>
</body></html>"##,
        title = esc(title),
    )
}
