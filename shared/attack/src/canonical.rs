//! The content hash of a STIX object, taken over a canonical form of its JSON so that the same
//! object hashes the same however a source serialised it (key order, whitespace, string
//! escapes, number spelling): a bundle pretty-printed, re-ordered or fetched through TAXII
//! instead of the JSON file changes nothing.
//!
//! The canonical form follows RFC 8785 (JSON Canonicalization Scheme) in everything that
//! varies between serialisers: no whitespace, object members sorted by key, strings written
//! with the minimal escapes (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00XX` for the other
//! control characters, everything else as UTF-8), numbers by value (`1`, `1.0` and `1e0` are
//! one number). Keys are sorted by their UTF-8 bytes rather than UTF-16 code units, and numbers
//! are written as Rust prints the `f64` (shortest round trip) rather than as ECMAScript does:
//! both are fixed functions of the value, so the form is as stable as RFC 8785's.
//!
//! The input is text that serde_json has already accepted as one JSON value; on anything else
//! the form is not defined and [`canonical_hash`] falls back to hashing the text as it is.
use std::borrow::Cow;

use xxhash_rust::xxh3::Xxh3;

/// The 128-bit content hash of one JSON value's canonical form.
pub fn canonical_hash(json: &str) -> u128 {
    let mut out = Vec::with_capacity(json.len());
    match (Canon { s: json.as_bytes(), i: 0 }).value(&mut out) {
        Some(()) => {
            let mut h = Xxh3::new();
            h.update(&out);
            h.digest128()
        }
        None => xxhash_rust::xxh3::xxh3_128(json.as_bytes()),
    }
}

/// The canonical form itself (for tests and diagnostics).
pub fn canonical_form(json: &str) -> Option<String> {
    let mut out = Vec::with_capacity(json.len());
    Canon { s: json.as_bytes(), i: 0 }.value(&mut out)?;
    String::from_utf8(out).ok()
}

struct Canon<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Canon<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.i += 1)
    }

    fn value(&mut self, out: &mut Vec<u8>) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(out),
            b'[' => self.array(out),
            b'"' => {
                let s = self.string()?;
                write_string(&s, out);
                Some(())
            }
            b't' => self.literal(b"true", out),
            b'f' => self.literal(b"false", out),
            b'n' => self.literal(b"null", out),
            _ => self.number(out),
        }
    }

    fn literal(&mut self, word: &[u8], out: &mut Vec<u8>) -> Option<()> {
        if self.s.get(self.i..self.i + word.len())? != word {
            return None;
        }
        self.i += word.len();
        out.extend_from_slice(word);
        Some(())
    }

    fn object(&mut self, out: &mut Vec<u8>) -> Option<()> {
        self.eat(b'{')?;
        let mut members: Vec<(Cow<'a, str>, Vec<u8>)> = Vec::new();
        if self.peek()? == b'}' {
            self.i += 1;
        } else {
            loop {
                if self.peek()? != b'"' {
                    return None;
                }
                let key = self.string()?;
                self.eat(b':')?;
                let mut v = Vec::new();
                self.value(&mut v)?;
                members.push((key, v));
                match self.peek()? {
                    b',' => self.i += 1,
                    b'}' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        out.push(b'{');
        for (n, (k, v)) in members.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_string(k, out);
            out.push(b':');
            out.extend_from_slice(v);
        }
        out.push(b'}');
        Some(())
    }

    fn array(&mut self, out: &mut Vec<u8>) -> Option<()> {
        self.eat(b'[')?;
        out.push(b'[');
        if self.peek()? == b']' {
            self.i += 1;
        } else {
            let mut first = true;
            loop {
                if !first {
                    out.push(b',');
                }
                first = false;
                self.value(out)?;
                match self.peek()? {
                    b',' => self.i += 1,
                    b']' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        out.push(b']');
        Some(())
    }

    /// A string's value, borrowed when it has no escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        let s: &'a [u8] = self.s;
        let mut j = start;
        while j < s.len() && s[j] != b'"' && s[j] != b'\\' {
            j += 1;
        }
        if j < s.len() && s[j] == b'"' {
            self.i = j + 1;
            return std::str::from_utf8(&s[start..j]).ok().map(Cow::Borrowed);
        }
        let mut buf: Vec<u8> = s[start..j].to_vec();
        self.i = j;
        loop {
            match *s.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return String::from_utf8(buf).ok().map(Cow::Owned);
                }
                b'\\' => {
                    let e = *s.get(self.i + 1)?;
                    self.i += 2;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            if (0xD800..0xDC00).contains(&hi) {
                                if s.get(self.i..self.i + 2)? != b"\\u" {
                                    return None;
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return None;
                                }
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                            } else {
                                char::from_u32(hi)?
                            }
                        }
                        _ => return None,
                    };
                    let mut tmp = [0u8; 4];
                    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                b => {
                    buf.push(b);
                    self.i += 1;
                }
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
        self.i += 4;
        u32::from_str_radix(h, 16).ok()
    }

    fn number(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let start = self.i;
        while self.i < self.s.len() && matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        if text.is_empty() {
            return None;
        }
        // Integers that f64 holds exactly are written as integers, whatever their spelling.
        let v: f64 = text.parse().ok()?;
        if !v.is_finite() {
            return None;
        }
        if v == 0.0 {
            out.push(b'0');
        } else if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
            out.extend_from_slice(format!("{}", v as i64).as_bytes());
        } else {
            out.extend_from_slice(format!("{v:?}").as_bytes());
        }
        Some(())
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_value_however_serialised() {
        let a = r#"{"type":"attack-pattern","id":"x--1","name":"A \"B\" / C","n":1,"f":0.5,"l":[{"b":2,"a":1}],"t":true,"z":null}"#;
        let b = "{\n  \"z\" : null, \"t\": true,\n \"l\": [ { \"a\": 1.0, \"b\": 2e0 } ],\n \"f\": 5E-1, \"n\": 1,\n \"name\": \"A \\u0022B\\\" \\/ \\u0043\",\n \"id\": \"x--1\", \"type\": \"attack-pattern\" }";
        assert_eq!(canonical_form(a), canonical_form(b));
        assert_eq!(canonical_hash(a), canonical_hash(b));
        assert_eq!(
            canonical_form(a).unwrap(),
            r#"{"f":0.5,"id":"x--1","l":[{"a":1,"b":2}],"n":1,"name":"A \"B\" / C","t":true,"type":"attack-pattern","z":null}"#
        );
    }

    #[test]
    fn escapes_are_minimal_and_non_ascii_is_utf8() {
        let a = r#"{"s":"caf\u00e9 \ud83d\ude00 tab\there \u001f"}"#;
        assert_eq!(canonical_form(a).unwrap(), "{\"s\":\"café 😀 tab\\there \\u001f\"}");
        assert_eq!(canonical_hash(a), canonical_hash("{\"s\": \"café 😀 tab\\there \\u001F\"}"));
    }

    #[test]
    fn different_values_hash_differently() {
        let base = r#"{"a":[1,2],"b":"x"}"#;
        for other in
            [r#"{"a":[2,1],"b":"x"}"#, r#"{"a":[1,2],"b":"y"}"#, r#"{"a":[1,2],"b":"x","c":null}"#, r#"{"a":[1,2.5],"b":"x"}"#, r#"{"a":[1,2],"b":["x"]}"#]
        {
            assert_ne!(canonical_hash(base), canonical_hash(other), "{other}");
        }
        // key order and nesting cannot be confused with each other
        assert_ne!(canonical_hash(r#"{"a":{"b":1}}"#), canonical_hash(r#"{"a":{},"b":1}"#));
    }

    #[test]
    fn unreadable_text_falls_back_to_the_text() {
        assert_eq!(canonical_hash("{\"a\":"), xxhash_rust::xxh3::xxh3_128(b"{\"a\":"));
        assert!(canonical_form("[1,").is_none());
    }
}
