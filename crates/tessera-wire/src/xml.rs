//! A minimal XML writer: elements, escaped text, no pretty-printing.

/// Builds an XML document as a string. Element names are trusted (they come from code);
/// text is always escaped.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
}

/// Escape text for element content (quotes stay as they are, as AWS renders them).
pub fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
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
    }
}
