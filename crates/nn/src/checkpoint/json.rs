//! The JSON that a safetensors header needs: a strict RFC 8259 parser into a small value
//! tree, and string escaping for the writer.
//!
//! Hand-written instead of serde_json: the header is one flat object, and serde's derive
//! stack (syn, serde_derive, serde_json) was a third of the examples' cold build. Headers come
//! from untrusted files, so the parser bounds its nesting depth (a deep `[[[[...` must not
//! overflow the stack), rejects lone surrogates and raw control characters, and keeps numbers
//! as their text so that whole numbers are read exactly as `u64`.

use std::fmt::Write;

/// Nesting deeper than this is rejected (serde_json's default recursion limit too).
const MAX_DEPTH: usize = 128;

/// A parsed JSON value. Objects keep their members in file order, duplicates included:
/// what a duplicate means is the caller's decision.
#[derive(Debug, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    /// The number's text, validated against the JSON grammar.
    Number(&'a str),
    String(String),
    Array(Vec<Value<'a>>),
    Object(Vec<(String, Value<'a>)>),
}

impl Value<'_> {
    /// What kind of value this is, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Parses `text` as exactly one JSON value, with optional whitespace around it.
///
/// # Errors
/// A message naming the byte offset and what was expected there.
pub(crate) fn parse(text: &str) -> Result<Value<'_>, String> {
    let mut parser = Parser { text, pos: 0 };
    parser.skip_whitespace();
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.pos != text.len() {
        return Err(parser.error("the end of the JSON text"));
    }
    Ok(value)
}

/// Appends `s` as a JSON string literal: quotes, backslashes and control characters escaped
/// (short forms where JSON has them), everything else as UTF-8.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next unread character; always on a character boundary.
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, expected: &str) -> String {
        match self.text[self.pos..].chars().next() {
            Some(found) => format!("at byte {}: expected {expected}, found {found:?}", self.pos),
            None => format!("at byte {}: expected {expected}, found the end", self.pos),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.pos += usize::from(found);
        found
    }

    fn literal(&mut self, word: &str, value: Value<'a>) -> Result<Value<'a>, String> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error(word))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, String> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            _ => Err(self.error("a JSON value")),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "at byte {}: nested deeper than {MAX_DEPTH} levels",
                self.pos
            ));
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<Value<'a>, String> {
        self.check_depth(depth)?;
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.eat(b'}') {
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("a member name in quotes"));
            }
            let name = self.string()?;
            self.skip_whitespace();
            if !self.eat(b':') {
                return Err(self.error("':' after a member name"));
            }
            self.skip_whitespace();
            members.push((name, self.value(depth)?));
            self.skip_whitespace();
            if self.eat(b'}') {
                return Ok(Value::Object(members));
            }
            if !self.eat(b',') {
                return Err(self.error("',' or '}' in an object"));
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value<'a>, String> {
        self.check_depth(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.eat(b']') {
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth)?);
            self.skip_whitespace();
            if self.eat(b']') {
                return Ok(Value::Array(items));
            }
            if !self.eat(b',') {
                return Err(self.error("',' or ']' in an array"));
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, kept as text.
    fn number(&mut self) -> Result<Value<'a>, String> {
        let start = self.pos;
        self.eat(b'-');
        if !self.eat(b'0') && self.digits() == 0 {
            return Err(self.error("a digit"));
        }
        if self.eat(b'.') && self.digits() == 0 {
            return Err(self.error("a digit after the decimal point"));
        }
        if (self.eat(b'e') || self.eat(b'E')) && {
            let _ = self.eat(b'+') || self.eat(b'-');
            self.digits() == 0
        } {
            return Err(self.error("a digit in the exponent"));
        }
        Ok(Value::Number(&self.text[start..self.pos]))
    }

    /// Consumes ASCII digits; returns how many.
    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control character at once.
            let rest = &self.text[self.pos..];
            let run = rest
                .bytes()
                .position(|b| b == b'"' || b == b'\\' || b < b' ')
                .unwrap_or(rest.len());
            out.push_str(&rest[..run]);
            self.pos += run;
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(_) => return Err(self.error("an escaped control character")),
                None => return Err(self.error("'\"' to close the string")),
            }
        }
    }

    /// The character an escape stands for; `self.pos` is just past the backslash.
    fn escape(&mut self) -> Result<char, String> {
        let Some(byte) = self.peek() else {
            return Err(self.error("an escape sequence"));
        };
        let simple = match byte {
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            b'/' => Some('/'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            b'u' => None,
            _ => return Err(self.error("one of \" \\ / b f n r t u after a backslash")),
        };
        self.pos += 1;
        if let Some(c) = simple {
            return Ok(c);
        }
        let unit = self.hex4()?;
        let code = match unit {
            0xd800..=0xdbff => {
                // A high surrogate must be followed by an escaped low one.
                if !(self.eat(b'\\') && self.eat(b'u')) {
                    return Err(self.error("a low surrogate escape after a high surrogate"));
                }
                let low = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&low) {
                    return Err(format!(
                        "at byte {}: \\u{low:04x} is not a low surrogate",
                        self.pos - 6
                    ));
                }
                0x10000 + ((u32::from(unit) - 0xd800) << 10) + (u32::from(low) - 0xdc00)
            }
            0xdc00..=0xdfff => {
                return Err(format!(
                    "at byte {}: lone low surrogate \\u{unit:04x}",
                    self.pos - 6
                ));
            }
            _ => u32::from(unit),
        };
        char::from_u32(code).ok_or_else(|| format!("at byte {}: invalid code point", self.pos))
    }

    fn hex4(&mut self) -> Result<u16, String> {
        let digits = self.text.as_bytes().get(self.pos..self.pos + 4);
        let value = digits
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            // Four ASCII hex digits: valid UTF-8 and at most 0xffff.
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u16::from_str_radix(d, 16).ok());
        match value {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.error("four hex digits after \\u")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> Value<'static> {
        Value::String(s.to_string())
    }

    #[test]
    fn parses_every_kind_of_value() {
        let v =
            parse(r#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}, "a": {}} "#).unwrap();
        let expected = Value::Object(vec![
            (
                "a".into(),
                Value::Array(vec![
                    Value::Number("1"),
                    Value::Number("-2.5e3"),
                    Value::Bool(true),
                    Value::Bool(false),
                    Value::Null,
                ]),
            ),
            ("b".into(), Value::Object(vec![("c".into(), string("d"))])),
            // Duplicates are kept for the caller to judge.
            ("a".into(), Value::Object(vec![])),
        ]);
        assert_eq!(v, expected);
    }

    #[test]
    fn decodes_escapes_and_surrogate_pairs() {
        // U+1F600 is the surrogate pair D83D DE00.
        let v = parse(r#""q\"b\\s\/\b\f\n\r\t\u00e9\ud83d\ude00""#).unwrap();
        assert_eq!(v, string("q\"b\\s/\u{8}\u{c}\n\r\té\u{1f600}"));
    }

    #[test]
    fn rejects_malformed_text_with_its_position() {
        for (text, position) in [
            ("", 0),
            ("{", 1),
            ("{\"a\" 1}", 5),
            ("[1,]", 3),
            ("[1 2]", 3),
            ("01", 1),
            ("-", 1),
            ("1.", 2),
            ("1e+", 3),
            ("\"abc", 4),
            ("\"a\u{1}\"", 2),
            (r#""\x""#, 2),
            (r#""\u12g4""#, 3),
            (r#""\ud800""#, 7),
            (r#""\ud800\u0041""#, 7),
            (r#""\udc00""#, 1),
            ("tru", 0),
            ("{} x", 3),
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                err.starts_with(&format!("at byte {position}:")),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn bounds_the_nesting_depth() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        // Far deeper than a thread's stack could recurse, rejected before recursing.
        let deep = "[".repeat(1_000_000);
        assert!(parse(&deep).unwrap_err().contains("nested deeper than 128"));
    }

    #[test]
    fn written_strings_parse_back_to_themselves() {
        for s in [
            "",
            "plain",
            "q\"b\\",
            "\u{0}\u{1f}\u{7f}\n\t",
            "é ü \u{1f600}",
        ] {
            let mut text = String::new();
            write_string(&mut text, s);
            assert_eq!(parse(&text).unwrap(), string(s), "{text}");
        }
        // serde_json's forms, so that files match the reference writer byte for byte.
        let mut text = String::new();
        write_string(&mut text, "\u{1}\u{8}");
        assert_eq!(text, r#""\u0001\b""#);
    }
}
