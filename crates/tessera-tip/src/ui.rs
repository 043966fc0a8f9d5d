//! The terminal side: a spinner while waiting (only when stderr is a terminal), colour only on a
//! terminal (and never with `NO_COLOR`), tables, and opening the browser.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Is stderr a terminal that may be coloured?
pub fn colour() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

fn paint(code: &str, s: &str) -> String {
    if colour() {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_owned()
    }
}

pub fn red(s: &str) -> String {
    paint("1;31", s)
}

pub fn green(s: &str) -> String {
    paint("32", s)
}

pub fn bold(s: &str) -> String {
    paint("1", s)
}

/// A spinner on stderr, cleared when dropped. Silent when stderr is not a terminal (as when
/// the AWS CLI runs tip as a `credential_process`).
pub struct Spinner {
    stop: Option<Arc<AtomicBool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    pub fn start(message: &str) -> Spinner {
        if !std::io::stderr().is_terminal() {
            return Spinner {
                stop: None,
                thread: None,
            };
        }
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let message = message.to_owned();
        let thread = std::thread::spawn(move || {
            let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
            let mut i = 0;
            // Only show up for waits a person notices.
            std::thread::sleep(Duration::from_millis(150));
            while !s.load(Ordering::Relaxed) {
                let _ = write!(
                    std::io::stderr(),
                    "\r{} {message}…",
                    frames[i % frames.len()]
                );
                let _ = std::io::stderr().flush();
                i += 1;
                std::thread::sleep(Duration::from_millis(90));
            }
            if i > 0 {
                let _ = write!(std::io::stderr(), "\r\x1b[2K");
                let _ = std::io::stderr().flush();
            }
        });
        Spinner {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(s) = &self.stop {
            s.store(true, Ordering::Relaxed);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Split a `$BROWSER` value into words, with '…' and "…" quoting.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Open `url` in the user's browser: `$BROWSER` (its `%s` replaced by the URL, else the URL
/// appended), else the desktop's opener. Failures are not errors: the URL is printed anyway.
pub fn open_browser(url: &str) {
    let cmd: Vec<String> = match std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
    {
        Some(b) => {
            let mut w = words(&b);
            if w.iter().any(|x| x.contains("%s")) {
                w = w.into_iter().map(|x| x.replace("%s", url)).collect();
            } else {
                w.push(url.to_owned());
            }
            w
        }
        None if cfg!(target_os = "macos") => vec!["open".into(), url.into()],
        None if cfg!(windows) => vec![
            "cmd".into(),
            "/C".into(),
            "start".into(),
            String::new(),
            url.into(),
        ],
        None => vec!["xdg-open".into(), url.into()],
    };
    let Some((prog, args)) = cmd.split_first() else {
        return;
    };
    match std::process::Command::new(prog)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(mut child) => {
            // Reap it whenever it ends; tip does not wait for the browser.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
        }
        Err(_) => eprintln!("(could not open a browser: open the address above yourself)"),
    }
}

/// A plain text table: a header and rows, columns padded to their widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < width.len() {
                width[i] = width[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(width[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.clone()));
        out.push('\n');
    }
    out
}

/// "in 52 min", "expired 3 min ago".
pub fn relative(unix: i64, now: i64) -> String {
    let d = unix - now;
    let span = |s: i64| {
        if s >= 3600 {
            format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
        } else if s >= 60 {
            format!("{} min", s / 60)
        } else {
            format!("{s} s")
        }
    };
    if d >= 0 {
        format!("in {}", span(d))
    } else {
        format!("expired {} ago", span(-d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_words_and_tables() {
        assert_eq!(
            words("node '/a b/x.mjs' --user \"m j\" --url"),
            vec!["node", "/a b/x.mjs", "--user", "m j", "--url"]
        );
        assert_eq!(words("  "), Vec::<String>::new());
        assert_eq!(words("a ''"), vec!["a", ""]);
        let t = table(&["A", "BB"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "A    BB\nxxx  y\n");
        assert_eq!(relative(100, 40), "in 60 s".replace("60 s", "1 min"));
        assert_eq!(relative(0, 7200), "expired 2h 00m ago");
    }
}
