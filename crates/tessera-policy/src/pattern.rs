//! Compiled string patterns: literal text, `*` / `?` wildcards and policy
//! variables (`${aws:username}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}`).
//!
//! Patterns are compiled once at parse time; matching does not allocate
//! unless the pattern contains a policy variable whose value is not a string.

use std::borrow::Cow;

use crate::context::{ContextKeys, normalize_key};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(Box<str>),
    /// `*`: any run of characters (possibly empty).
    Star,
    /// `?`: exactly one character.
    One,
    Var(Box<Var>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Var {
    /// Lower-cased context key name.
    key: Box<str>,
    default: Option<Box<str>>,
}

#[derive(Debug, Clone, Copy)]
enum Piece<'a> {
    Lit(&'a str),
    Star,
    One,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// Only `*`: matches everything.
    All,
    /// One literal, no wildcards or variables.
    Exact(Box<str>),
    General,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    toks: Vec<Tok>,
    shape: Shape,
    has_vars: bool,
}

fn parse_var(inner: &str) -> Option<Var> {
    let (key, default) = match inner.split_once(',') {
        Some((k, d)) => {
            let d = d.trim();
            let d = d.strip_prefix('\'')?.strip_suffix('\'')?;
            (k.trim(), Some(d.into()))
        }
        None => (inner.trim(), None),
    };
    if key.is_empty()
        || key
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '$' | '{' | '}' | '\'' | '*' | '?'))
    {
        return None;
    }
    Some(Var {
        key: normalize_key(key).into(),
        default,
    })
}

impl Pattern {
    /// Compiles `src`. With `wildcards`, `*` and `?` are wildcards; with
    /// `variables`, `${...}` sequences are policy variables or escapes.
    pub(crate) fn compile(src: &str, wildcards: bool, variables: bool) -> Pattern {
        let mut toks = Vec::new();
        let mut lit = String::new();
        let mut rest = src;
        while let Some(c) = rest.chars().next() {
            if variables
                && rest.starts_with("${")
                && let Some(end) = rest.find('}')
            {
                let inner = &rest[2..end];
                match inner {
                    "*" | "?" | "$" => lit.push_str(inner),
                    _ => match parse_var(inner) {
                        Some(v) => {
                            if !lit.is_empty() {
                                toks.push(Tok::Lit(std::mem::take(&mut lit).into()));
                            }
                            toks.push(Tok::Var(Box::new(v)));
                        }
                        None => lit.push_str(&rest[..=end]),
                    },
                }
                rest = &rest[end + 1..];
                continue;
            }
            if wildcards && (c == '*' || c == '?') {
                if !lit.is_empty() {
                    toks.push(Tok::Lit(std::mem::take(&mut lit).into()));
                }
                toks.push(if c == '*' { Tok::Star } else { Tok::One });
            } else {
                lit.push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
        if !lit.is_empty() {
            toks.push(Tok::Lit(lit.into()));
        }
        Self::from_toks(toks)
    }

    fn from_toks(raw: Vec<Tok>) -> Pattern {
        // Merge adjacent literals, collapse runs of `*`, drop empty literals.
        let mut toks: Vec<Tok> = Vec::with_capacity(raw.len());
        for t in raw {
            match (toks.last_mut(), t) {
                (_, Tok::Lit(s)) if s.is_empty() => {}
                (Some(Tok::Lit(prev)), Tok::Lit(s)) => {
                    let mut joined = String::with_capacity(prev.len() + s.len());
                    joined.push_str(prev);
                    joined.push_str(&s);
                    *prev = joined.into();
                }
                (Some(Tok::Star), Tok::Star) => {}
                (_, t) => toks.push(t),
            }
        }
        let has_vars = toks.iter().any(|t| matches!(t, Tok::Var(_)));
        let shape = match toks.as_slice() {
            [Tok::Star] => Shape::All,
            [] => Shape::Exact("".into()),
            [Tok::Lit(s)] => Shape::Exact(s.clone()),
            _ => Shape::General,
        };
        Pattern {
            toks,
            shape,
            has_vars,
        }
    }

    /// True if the pattern is a lone `*`.
    pub(crate) fn is_match_all(&self) -> bool {
        self.shape == Shape::All
    }

    #[cfg(test)]
    pub(crate) fn has_vars(&self) -> bool {
        self.has_vars
    }

    /// Splits the pattern at the first five `:` of its literal text into the
    /// six ARN segments. Returns `None` when there are fewer than six.
    pub(crate) fn split_arn(&self) -> Option<[Pattern; 6]> {
        let mut segs: Vec<Vec<Tok>> = vec![Vec::new()];
        for t in &self.toks {
            match t {
                Tok::Lit(s) if segs.len() < 6 => {
                    let mut rest: &str = s;
                    while segs.len() < 6 {
                        match rest.split_once(':') {
                            Some((head, tail)) => {
                                segs.last_mut()?.push(Tok::Lit(head.into()));
                                segs.push(Vec::new());
                                rest = tail;
                            }
                            None => break,
                        }
                    }
                    segs.last_mut()?.push(Tok::Lit(rest.into()));
                }
                other => segs.last_mut()?.push(other.clone()),
            }
        }
        let segs: [Vec<Tok>; 6] = segs.try_into().ok()?;
        Some(segs.map(Pattern::from_toks))
    }

    /// Matches `text`. `ignore_case` compares characters case-insensitively.
    /// Variables are looked up in `ctx`; a variable that cannot be resolved
    /// (missing or multivalued key, no default) makes the pattern not match.
    pub(crate) fn matches(&self, text: &str, ignore_case: bool, ctx: &ContextKeys) -> bool {
        match &self.shape {
            Shape::All => return true,
            Shape::Exact(s) => return str_eq(s, text, ignore_case),
            Shape::General => {}
        }
        if !self.has_vars {
            return glob(
                |i| {
                    self.toks.get(i).map(|t| match t {
                        Tok::Lit(s) => Piece::Lit(s),
                        Tok::Star => Piece::Star,
                        Tok::One => Piece::One,
                        Tok::Var(_) => Piece::Lit(""),
                    })
                },
                text,
                ignore_case,
            );
        }
        let mut values: Vec<Cow<'_, str>> = Vec::new();
        for t in &self.toks {
            if let Tok::Var(v) = t {
                match resolve(v, ctx) {
                    Some(s) => values.push(s),
                    None => return false,
                }
            }
        }
        let mut vi = 0;
        let mut pieces: Vec<Piece<'_>> = Vec::with_capacity(self.toks.len());
        for t in &self.toks {
            pieces.push(match t {
                Tok::Lit(s) => Piece::Lit(s),
                Tok::Star => Piece::Star,
                Tok::One => Piece::One,
                Tok::Var(_) => {
                    vi += 1;
                    Piece::Lit(&values[vi - 1])
                }
            });
        }
        glob(|i| pieces.get(i).copied(), text, ignore_case)
    }
}

fn resolve<'c>(v: &'c Var, ctx: &'c ContextKeys) -> Option<Cow<'c, str>> {
    match ctx.get_normalized(&v.key) {
        Some([single]) => Some(single.as_string()),
        _ => v.default.as_deref().map(Cow::Borrowed),
    }
}

fn str_eq(a: &str, b: &str, ignore_case: bool) -> bool {
    if !ignore_case {
        return a == b;
    }
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

fn char_eq(a: char, b: char, ignore_case: bool) -> bool {
    a == b
        || (ignore_case
            && (a.eq_ignore_ascii_case(&b)
                || (!(a.is_ascii() && b.is_ascii()) && a.to_lowercase().eq(b.to_lowercase()))))
}

/// Wildcard matching with single-star backtracking (linear memory, no
/// allocation). `piece(i)` yields the i-th piece of the pattern.
fn glob<'p>(piece: impl Fn(usize) -> Option<Piece<'p>>, text: &str, ignore_case: bool) -> bool {
    let (mut pi, mut po, mut ti) = (0usize, 0usize, 0usize);
    // (piece index after the last `*`, text position that `*` resumes from)
    let mut back: Option<(usize, usize)> = None;
    loop {
        // Skip exhausted literals.
        let cur = loop {
            match piece(pi) {
                Some(Piece::Lit(s)) if po >= s.len() => {
                    pi += 1;
                    po = 0;
                }
                other => break other,
            }
        };
        if ti >= text.len() {
            // Text consumed: the rest of the pattern must be only `*`.
            let mut k = pi;
            let mut offset = po;
            loop {
                match piece(k) {
                    None => return true,
                    Some(Piece::Star) => k += 1,
                    Some(Piece::Lit(s)) if offset >= s.len() => {
                        k += 1;
                        offset = 0;
                    }
                    _ => break,
                }
            }
        } else {
            let Some(tc) = text[ti..].chars().next() else {
                return false;
            };
            match cur {
                Some(Piece::Star) => {
                    pi += 1;
                    po = 0;
                    back = Some((pi, ti));
                    continue;
                }
                Some(Piece::One) => {
                    pi += 1;
                    ti += tc.len_utf8();
                    continue;
                }
                Some(Piece::Lit(s)) => {
                    if let Some(pc) = s[po..].chars().next()
                        && char_eq(pc, tc, ignore_case)
                    {
                        po += pc.len_utf8();
                        ti += tc.len_utf8();
                        continue;
                    }
                }
                None => {}
            }
        }
        // Mismatch: let the last `*` swallow one more character.
        match back {
            Some((bpi, bti)) if bti < text.len() => {
                let step = text[bti..].chars().next().map_or(1, char::len_utf8);
                back = Some((bpi, bti + step));
                pi = bpi;
                po = 0;
                ti = bti + step;
            }
            _ => return false,
        }
    }
}

/// An ARN pattern, matched segment by segment as AWS does
/// (`arn:partition:service:region:account:resource`), with wildcards inside
/// each segment. A lone `*` matches anything; a pattern that is not a
/// six-part ARN matches only text that is not one either, as a whole string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArnPattern {
    whole: Pattern,
    segments: Option<Box<[Pattern; 6]>>,
}

impl ArnPattern {
    pub(crate) fn compile(src: &str, variables: bool) -> ArnPattern {
        let whole = Pattern::compile(src, true, variables);
        let segments = if whole.is_match_all() {
            None
        } else {
            whole.split_arn().map(Box::new)
        };
        ArnPattern { whole, segments }
    }

    pub(crate) fn matches(&self, text: &str, ctx: &ContextKeys) -> bool {
        if self.whole.is_match_all() {
            return true;
        }
        if let Some(segs) = &self.segments {
            let mut parts = text.splitn(6, ':');
            let mut texts = [""; 6];
            let mut n = 0;
            for (slot, part) in texts.iter_mut().zip(&mut parts) {
                *slot = part;
                n += 1;
            }
            return n == 6
                && segs
                    .iter()
                    .zip(texts)
                    .all(|(p, t)| p.matches(t, false, ctx));
        }
        // A pattern that is not a six-part ARN only matches text that is not
        // one either, compared as a whole.
        text.splitn(6, ':').count() < 6 && self.whole.matches(text, false, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Pattern::compile(p, true, false).matches(t, false, &ContextKeys::new())
    }

    #[test]
    fn wildcards() {
        assert!(m("*", ""));
        assert!(m("*", "anything at all"));
        assert!(m("a*c", "abbbc"));
        assert!(m("a*c", "ac"));
        assert!(!m("a*c", "acb"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b*", "xxbxxaxx"));
        assert!(m("a**b", "ab"));
        assert!(m("??", "éü"));
        assert!(!m("???", "éü"));
        assert!(m("*.txt", "dir/file.txt"));
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(m("*?", "x"));
        assert!(!m("*?", ""));
        assert!(m("a*a*a*a*b", "aaaaaaaaaaaaaaaaab"));
        assert!(!m("a*a*a*a*b", "aaaaaaaaaaaaaaaaaa"));
    }

    #[test]
    fn case_insensitive() {
        let p = Pattern::compile("iam:Get*", true, false);
        let ctx = ContextKeys::new();
        assert!(p.matches("IAM:getrole", true, &ctx));
        assert!(!p.matches("IAM:getrole", false, &ctx));
        let p = Pattern::compile("ÉTÉ", false, false);
        assert!(p.matches("été", true, &ctx));
    }

    #[test]
    fn wildcards_disabled_are_literal() {
        let p = Pattern::compile("a*b", false, false);
        let ctx = ContextKeys::new();
        assert!(p.matches("a*b", false, &ctx));
        assert!(!p.matches("axb", false, &ctx));
    }

    #[test]
    fn variables() {
        let mut ctx = ContextKeys::new();
        ctx.insert("aws:username", "alice");
        let p = Pattern::compile("home/${aws:username}/*", true, true);
        assert!(p.has_vars());
        assert!(p.matches("home/alice/x", false, &ctx));
        assert!(!p.matches("home/bob/x", false, &ctx));
        // Missing key: no match.
        assert!(!p.matches("home//x", false, &ContextKeys::new()));
        // Default value.
        let p = Pattern::compile("home/${aws:PrincipalTag/team, 'shared'}/*", true, true);
        assert!(p.matches("home/shared/a", false, &ctx));
        ctx.insert("aws:PrincipalTag/TEAM", "red");
        assert!(p.matches("home/red/a", false, &ctx));
        // Escapes are literal characters, not wildcards.
        let p = Pattern::compile("a${*}b${?}c${$}", true, true);
        assert!(p.matches("a*b?c$", false, &ctx));
        assert!(!p.matches("axbycz", false, &ctx));
        // A substituted value is literal even if it contains wildcards.
        ctx.insert("aws:username", "*");
        let p = Pattern::compile("${aws:username}", true, true);
        assert!(p.matches("*", false, &ctx));
        assert!(!p.matches("bob", false, &ctx));
        // Without variable support the text is literal.
        let p = Pattern::compile("${aws:username}", false, false);
        assert!(p.matches("${aws:username}", false, &ctx));
        // Malformed variables stay literal.
        let p = Pattern::compile("${ }x${unterminated", false, true);
        assert!(p.matches("${ }x${unterminated", false, &ctx));
        // Non-string values are formatted.
        ctx.insert("aws:MultiFactorAuthAge", 30i64);
        let p = Pattern::compile("age-${aws:MultiFactorAuthAge}", false, true);
        assert!(p.matches("age-30", false, &ctx));
        // Multivalued keys do not resolve.
        ctx.insert_multi("aws:username", ["a", "b"]);
        let p = Pattern::compile("${aws:username}", false, true);
        assert!(!p.matches("a", false, &ctx));
    }

    fn arn(p: &str, t: &str) -> bool {
        ArnPattern::compile(p, true).matches(t, &ContextKeys::new())
    }

    #[test]
    fn arn_segments() {
        assert!(arn("*", "arn:aws:s3:::b"));
        assert!(arn("*", "*"));
        assert!(arn("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c"));
        assert!(!arn("arn:aws:s3:::bucket/*", "arn:aws:s3:::other/a"));
        assert!(arn(
            "arn:aws:iam::*:role/R",
            "arn:aws:iam::123456789012:role/R"
        ));
        // `*` in the account segment cannot eat into the resource segment.
        assert!(!arn("arn:aws:iam::*:role/R", "arn:aws:iam::1:x:role/R"));
        assert!(arn("arn:aws:iam::*:*", "arn:aws:iam::1:x:role/R"));
        assert!(arn(
            "arn:*:iam::?????????????:user/*",
            "arn:aws-cn:iam::1234567890123:user/a"
        ));
        assert!(!arn("arn:aws:s3:::b", "*"));
        assert!(!arn("arn:*", "arn:aws:s3:::b"));
        assert!(!arn("arn:aws:s3:::b", "arn:aws:s3"));
        assert!(arn("top*", "topic"));
        // Case-sensitive.
        assert!(!arn("arn:aws:s3:::Bucket", "arn:aws:s3:::bucket"));
        let p = ArnPattern::compile("arn:aws:s3:::b/${aws:userid}/*", true);
        let ctx = ContextKeys::new().with("aws:userid", "AIDA:x");
        assert!(p.matches("arn:aws:s3:::b/AIDA:x/f", &ctx));
    }

    #[test]
    fn split_arn_keeps_variables_with_colons() {
        let p = Pattern::compile("arn:aws:s3:::${aws:username}", true, true);
        let segs = p.split_arn().unwrap();
        assert!(segs[5].has_vars());
        assert_eq!(segs[2], Pattern::compile("s3", true, false));
        assert!(
            Pattern::compile("arn:aws:s3", true, false)
                .split_arn()
                .is_none()
        );
    }
}
