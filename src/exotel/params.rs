//! The parameters of an Exotel request: from its query string and its form or JSON body, in
//! that order, at most [`MAX_PARAMS`] of them.

use std::borrow::Cow;

/// Most parameters read from one request.
pub const MAX_PARAMS: usize = 200;

/// Exotel's parameters from the query string and a form or JSON body, in that order,
/// borrowed from the request where no decoding was needed.
pub fn pairs<'a>(
    query: Option<&'a str>,
    json: bool,
    body: &'a [u8],
) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
    let mut out: Vec<(Cow<str>, Cow<str>)> = Vec::with_capacity(24);
    // Capped while parsing: a hostile body must not cost more than a real request.
    if let Some(q) = query {
        out.extend(form_pairs(q).take(MAX_PARAMS));
    }
    if json {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) {
            for (k, v) in map.into_iter().take(MAX_PARAMS) {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => continue,
                    other => other.to_string(),
                };
                out.push((Cow::Owned(k), Cow::Owned(text)));
            }
        }
    } else if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) => out.extend(form_pairs(text).take(MAX_PARAMS)),
            // Not UTF-8 as it stands (a `%`-escape may still make it so): the crate's reading.
            Err(_) => out.extend(form_urlencoded::parse(body).take(MAX_PARAMS)),
        }
    }
    out.truncate(MAX_PARAMS);
    out
}

/// `application/x-www-form-urlencoded` pairs, read as `form_urlencoded::parse` reads them
/// (the tests hold the two equal), in one pass over the input, and borrowed from it whenever
/// a part has no `%` or `+`, as most of Exotel's parameters have not: `form_urlencoded`
/// sends every part through its lossy UTF-8 decoder, which was a fifth of a Connect's
/// instructions (see the README).
pub fn form_pairs(input: &str) -> FormPairs<'_> {
    FormPairs { rest: input }
}

pub struct FormPairs<'a> {
    rest: &'a str,
}

impl<'a> Iterator for FormPairs<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            let (mut end, mut equals) = (self.rest.len(), None);
            let (mut escaped_key, mut escaped_value) = (false, false);
            for (i, &b) in self.rest.as_bytes().iter().enumerate() {
                match b {
                    b'&' => {
                        end = i;
                        break;
                    }
                    b'=' if equals.is_none() => equals = Some(i),
                    b'%' | b'+' if equals.is_none() => escaped_key = true,
                    b'%' | b'+' => escaped_value = true,
                    _ => {}
                }
            }
            // Cut at ASCII bytes: always on a character boundary.
            let part = &self.rest[..end];
            self.rest = self.rest.get(end + 1..).unwrap_or("");
            if part.is_empty() {
                continue;
            }
            return Some(match equals {
                Some(at) => (
                    decode(&part[..at], escaped_key),
                    decode(&part[at + 1..], escaped_value),
                ),
                None => (decode(part, escaped_key), Cow::Borrowed("")),
            });
        }
        None
    }
}

/// One part (`escaped`: it has a `%` or a `+`): `+` as a space, `%XX` as its byte (a `%`
/// not followed by two hex digits as itself), then UTF-8, with U+FFFD for what is not.
fn decode(part: &str, escaped: bool) -> Cow<'_, str> {
    if !escaped {
        return Cow::Borrowed(part);
    }
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escape = bytes
            .get(i + 1..i + 3)
            .filter(|_| b == b'%')
            .and_then(|h| Some(hex(h[0])? * 16 + hex(h[1])?));
        match (b, escape) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(text) => Cow::Owned(text),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// A hex digit's value.
fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same_as_form_urlencoded(input: &[u8]) {
        let ours: Vec<(String, String)> = pairs(None, false, input)
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let theirs: Vec<(String, String)> = form_urlencoded::parse(input)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(input));
    }

    #[test]
    fn reads_what_form_urlencoded_reads() {
        for input in [
            &b"CallSid=99&CallFrom=09901320691&digits=%221%22&Created=Tue,%2003%20Sep"[..],
            b"a=1&&b=&c&=d&e==f&g=h%",
            b"x=%2&y=%zz&z=%41%4a%4A+b+%2B&+=+",
            b"bad=%ff%fe&utf=%e0%a4%95&raw=\xe0\xa4",
            b"",
            b"&&&",
        ] {
            same_as_form_urlencoded(input);
        }
        same_as_form_urlencoded(&[b'k', b'=', 0xff, 0xfe, b'%', b'4', b'1']);
    }

    proptest! {
        #[test]
        fn reads_any_input_as_form_urlencoded_does(
            input in proptest::collection::vec(
                prop_oneof![
                    Just(b'&'), Just(b'='), Just(b'%'), Just(b'+'), Just(b'a'), Just(b'F'),
                    Just(b'2'), Just(b'9'), Just(0xe0), Just(0xa4), Just(0x95), Just(0xff),
                ],
                0..40,
            )
        ) {
            same_as_form_urlencoded(&input);
        }

        // ASCII only: every input takes the one-pass reader, escapes of bytes that are not
        // UTF-8 included.
        #[test]
        fn reads_any_ascii_input_as_form_urlencoded_does(
            input in proptest::collection::vec(
                prop_oneof![
                    Just(b'&'), Just(b'='), Just(b'%'), Just(b'+'), Just(b'a'), Just(b'F'),
                    Just(b'2'), Just(b'9'), Just(b'e'), Just(b'0'), Just(b'f'), Just(b'4'),
                ],
                0..40,
            )
        ) {
            same_as_form_urlencoded(&input);
        }
    }
}
