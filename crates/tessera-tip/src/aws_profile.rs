//! `tip auth set-aws-profile`: a `credential_process` profile in the AWS CLI's config file
//! (`$AWS_CONFIG_FILE`, default `~/.aws/config`), the old file kept as `config.tip-backup`.
//! Only the named profile's section is replaced; everything else stays byte for byte.

use anyhow::{Context, Result, anyhow, bail};
use std::path::{Path, PathBuf};

pub fn config_file() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("AWS_CONFIG_FILE").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow!("HOME is not set: cannot find ~/.aws/config"))?;
    Ok(PathBuf::from(home).join(".aws").join("config"))
}

/// Quote a word for how `credential_process` is run: split like a POSIX shell by botocore,
/// handed to `sh -c` by the Rust SDK (so `*` is quoted too, against globbing).
pub fn quote(w: &str) -> String {
    if !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        w.to_owned()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// `[profile NAME]` (or `[default]`).
fn header(name: &str) -> String {
    if name == "default" {
        "[default]".into()
    } else {
        format!("[profile {name}]")
    }
}

fn is_header_for(line: &str, name: &str) -> bool {
    let t = line.trim();
    let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
        return false;
    };
    let inner = inner.trim();
    if name == "default" && inner == "default" {
        return true;
    }
    inner
        .strip_prefix("profile")
        .is_some_and(|r| r.starts_with(char::is_whitespace) && r.trim() == name)
}

/// `text` with NAME's section replaced by (or appended as) `body` lines.
pub fn replace_section(text: &str, name: &str, body: &[(String, String)]) -> String {
    let mut section = header(name);
    section.push('\n');
    for (k, v) in body {
        section.push_str(&format!("{k} = {v}\n"));
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut i = 0;
    let mut done = false;
    while i < lines.len() {
        if !done && is_header_for(lines[i], name) {
            out.push_str(&section);
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with('[') {
                i += 1;
            }
            if i < lines.len() {
                out.push('\n');
            }
            done = true;
            continue;
        }
        out.push_str(lines[i]);
        i += 1;
    }
    if !done {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(&section);
    }
    out
}

/// Write the profile; returns the backup's path if there was a file before.
pub fn write(path: &Path, name: &str, body: &[(String, String)]) -> Result<Option<PathBuf>> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        bail!(
            "{name:?} is not an AWS profile name tip writes: use letters, digits, '-', '_' or '.'"
        );
    }
    let old = match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no directory", path.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut backup = None;
    if let Some(t) = &old {
        let b = dir.join(format!(
            "{}.tip-backup",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("config")
        ));
        crate::files::write_private(&b, t.as_bytes())?;
        backup = Some(b);
    }
    let new = replace_section(old.as_deref().unwrap_or(""), name, body);
    crate::files::write_private(path, new.as_bytes())?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_section_changes() {
        let text = "[default]\nregion = eu-west-1\n\n[profile red]\nregion = x\ncredential_process = old\n\n[profile other]\nregion = y\n";
        let body = vec![("credential_process".to_owned(), "tip s3ag".to_owned())];
        let out = replace_section(text, "red", &body);
        assert_eq!(
            out,
            "[default]\nregion = eu-west-1\n\n[profile red]\ncredential_process = tip s3ag\n\n[profile other]\nregion = y\n"
        );
        let added = replace_section("[default]\nregion = a", "blue", &body);
        assert_eq!(
            added,
            "[default]\nregion = a\n\n[profile blue]\ncredential_process = tip s3ag\n"
        );
        assert_eq!(
            replace_section("", "default", &body),
            "[default]\ncredential_process = tip s3ag\n"
        );
        // A profile whose name merely starts the same is left alone.
        let out = replace_section("[profile redder]\na = 1\n", "red", &body);
        assert!(out.starts_with("[profile redder]\na = 1\n"));
        assert_eq!(quote("s3://b/p/x"), "s3://b/p/x");
        assert_eq!(quote("s3://b/p/*"), "'s3://b/p/*'");
        assert_eq!(quote("/a b/tip"), "'/a b/tip'");
        assert_eq!(quote("it's"), "'it'\\''s'");
    }
}
