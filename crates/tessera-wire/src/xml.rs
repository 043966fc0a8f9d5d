//! A minimal XML writer (elements, escaped text, no pretty-printing) and a small reader of
//! request bodies into an element tree (restXml: members are found by name, not by order).

/// Builds an XML document as a string. Element names are trusted (they come from code);
/// text is always escaped.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
}

/// Escape text for element content (quotes stay as they are, as AWS renders them).
pub fn escape(s: &str, out: &mut String) {
    // Runs without a character to escape (a whole token, usually) are copied at once. The
    // escaped characters are ASCII, so each is a char boundary.
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let with = match b {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'\r' => "&#xD;",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        out.push_str(with);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Escape an attribute value (double-quoted).
fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            c => escape(c.encode_utf8(&mut [0; 4]), out),
        }
    }
}

impl Writer {
    pub fn new() -> Writer {
        Writer {
            out: String::with_capacity(512),
        }
    }

    pub fn with_declaration() -> Writer {
        let mut w = Writer::new();
        w.out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        w
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    pub fn open_ns(&mut self, name: &str, ns: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xmlns=\"");
        escape_attr(ns, &mut self.out);
        self.out.push_str("\">");
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `<name>text</name>`
    pub fn elem(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name);
        escape(text, &mut self.out);
        self.close(name)
    }

    /// `<name>text</name>` when `text` is Some, nothing otherwise.
    pub fn opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.elem(name, t);
        }
        self
    }

    /// Append already-rendered XML.
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.out.push_str(xml);
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// One element of a parsed request body: its local name (namespace prefix dropped), its text
/// (entities resolved) and its child elements in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

/// Why a body is not XML we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct XmlError(pub String);

/// Elements nested deeper than this are refused.
const MAX_DEPTH: usize = 32;
/// Bodies with more elements than this are refused.
const MAX_ELEMENTS: usize = 10_000;

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }
}

fn local(name: &[u8]) -> Result<String, XmlError> {
    let n = std::str::from_utf8(name).map_err(|_| XmlError("element name is not UTF-8".into()))?;
    Ok(n.rsplit(':').next().unwrap_or(n).to_owned())
}

fn resolve_entity(name: &str) -> Result<char, XmlError> {
    let bad = || XmlError(format!("unknown entity &{name};"));
    Ok(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        n if n.starts_with("#x") || n.starts_with("#X") => {
            char::from_u32(u32::from_str_radix(&n[2..], 16).map_err(|_| bad())?).ok_or_else(bad)?
        }
        n if n.starts_with('#') => {
            char::from_u32(n[1..].parse::<u32>().map_err(|_| bad())?).ok_or_else(bad)?
        }
        _ => return Err(bad()),
    })
}

/// Parse a request body into its root element. No DTDs (so no entity expansion beyond the
/// predefined ones), at most 32 levels and 10,000 elements, exactly one root.
pub fn parse(xml: &str) -> Result<Element, XmlError> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let malformed =
        |e: quick_xml::Error| XmlError(format!("The XML you provided was not well-formed: {e}"));
    loop {
        let ev = r.read_event().map_err(malformed)?;
        match ev {
            Event::Start(ref s) | Event::Empty(ref s) => {
                if root.is_some() {
                    return Err(XmlError("The XML has more than one root element.".into()));
                }
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(XmlError(
                        "The XML document is too large or too deeply nested.".into(),
                    ));
                }
                let e = Element {
                    name: local(s.name().as_ref())?,
                    ..Element::default()
                };
                if matches!(ev, Event::Empty(_)) {
                    match stack.last_mut() {
                        Some(p) => p.children.push(e),
                        None => root = Some(e),
                    }
                } else {
                    stack.push(e);
                }
            }
            Event::End(_) => {
                let e = stack
                    .pop()
                    .ok_or_else(|| XmlError("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(p) => p.children.push(e),
                    None => root = Some(e),
                }
            }
            Event::Text(t) => {
                let text = t.decode().map_err(|e| XmlError(format!("bad text: {e}")))?;
                match stack.last_mut() {
                    Some(e) => e.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(XmlError("text outside the root element".into())),
                }
            }
            Event::CData(c) => {
                let text =
                    std::str::from_utf8(&c).map_err(|_| XmlError("CDATA is not UTF-8".into()))?;
                if let Some(e) = stack.last_mut() {
                    e.text.push_str(text);
                }
            }
            Event::GeneralRef(g) => {
                let name = std::str::from_utf8(&g).map_err(|_| XmlError("bad entity".into()))?;
                let c = resolve_entity(name)?;
                if let Some(e) = stack.last_mut() {
                    e.text.push(c);
                }
            }
            Event::DocType(_) => {
                return Err(XmlError(
                    "Document type declarations are not allowed.".into(),
                ));
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError(
            "The XML you provided was not well-formed: unclosed element".into(),
        ));
    }
    root.ok_or_else(|| XmlError("The request body has no XML element.".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever text goes in comes back out of a real XML parser unchanged.
        #[test]
        fn escaped_text_round_trips(s in "[^\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\u{fffe}\u{ffff}]*") {
            let mut w = Writer::new();
            w.elem("a", &s);
            let xml = w.finish();
            let mut r = quick_xml::Reader::from_str(&xml);
            let mut text = String::new();
            loop {
                match r.read_event().unwrap() {
                    quick_xml::events::Event::Text(t) => text.push_str(&t.decode().unwrap()),
                    quick_xml::events::Event::GeneralRef(g) => {
                        let name = String::from_utf8(g.to_vec()).unwrap();
                        let c = match name.as_str() {
                            "lt" => "<".to_string(), "gt" => ">".to_string(), "amp" => "&".to_string(),
                            "quot" => "\"".to_string(), "apos" => "'".to_string(), "#xD" => "\r".to_string(),
                            other => panic!("unexpected entity {other}"),
                        };
                        text.push_str(&c);
                    }
                    quick_xml::events::Event::Eof => break,
                    _ => {}
                }
            }
            prop_assert_eq!(text, s);
        }

        /// What the writer escapes, the reader gives back.
        #[test]
        fn parse_round_trips(s in "[^\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\u{fffe}\u{ffff}]*") {
            let mut w = Writer::new();
            w.open_ns("R", "http://example.com/");
            w.elem("a", &s);
            w.close("R");
            let e = parse(&w.finish()).unwrap();
            prop_assert_eq!(e.child_text("a"), Some(s.as_str()));
        }
    }

    #[test]
    fn parses_by_name_and_refuses_hostile_documents() {
        let e = parse("<?xml version=\"1.0\"?><x:R xmlns:x=\"u\"><B>1</B><T><Tag><Key>k</Key></Tag><Tag/></T></x:R>").unwrap();
        assert_eq!(e.name, "R");
        assert_eq!(e.child_text("B"), Some("1"));
        assert_eq!(e.child("T").unwrap().children_named("Tag").count(), 2);
        assert!(parse("<!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>").is_err());
        assert!(parse("<r>&x;</r>").is_err());
        assert!(parse("<r><a></r>").is_err());
        assert!(parse("<r/><r/>").is_err());
        assert!(parse("").is_err());
        assert!(parse(&"<a>".repeat(40)).is_err());
        assert_eq!(parse("<r>&#x41;&lt;</r>").unwrap().text, "A<");
    }
}
