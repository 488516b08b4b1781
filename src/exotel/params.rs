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
pub fn form_pairs(input: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    raw_pairs(input).map(|(k, v)| (k.decoded(), v.decoded()))
}

/// The pairs of [`form_pairs`], each part decoded only when asked: a call is read from a
/// dozen of Exotel's twenty parameters.
pub fn raw_pairs(input: &str) -> RawPairs<'_> {
    RawPairs {
        input,
        start: 0,
        left: usize::MAX,
        specials: Specials::new(input.as_bytes()),
    }
}

pub struct RawPairs<'a> {
    input: &'a str,
    /// Where the next part starts.
    start: usize,
    /// How many pairs it may still give ([`RawPairs::at_most`]).
    left: usize,
    specials: Specials<'a>,
}

impl RawPairs<'_> {
    /// The first `n` pairs only: `Iterator::take`, counted inside `next`. `Take`'s own `next`
    /// was not inlined into the loop that reads a call, and calling it for each pair cost 650
    /// instructions a Connect request.
    pub fn at_most(self, n: usize) -> Self {
        RawPairs { left: n, ..self }
    }
}

/// One key or value as it stands in the input.
#[derive(Clone, Copy, Debug)]
pub struct Encoded<'a> {
    raw: &'a str,
    /// It has a `%` or a `+`.
    escaped: bool,
}

impl<'a> Encoded<'a> {
    /// The part as it stands, escapes and all.
    pub fn raw(self) -> &'a str {
        self.raw
    }

    /// The part's bytes decoded (`+` as a space, `%XX` as its byte, a `%` not followed by two
    /// hex digits as itself), before any UTF-8 check: for a reader that needs a few bytes of
    /// it, not the text.
    pub fn decoded_bytes(self) -> impl Iterator<Item = u8> + 'a {
        let bytes = self.raw.as_bytes();
        let mut at = 0;
        std::iter::from_fn(move || {
            let (byte, next) = match *bytes.get(at)? {
                b'+' => (b' ', at + 1),
                b'%' => match bytes
                    .get(at + 1..at + 3)
                    .and_then(|h| Some(hex(h[0])? * 16 + hex(h[1])?))
                {
                    Some(byte) => (byte, at + 3),
                    None => (b'%', at + 1),
                },
                byte => (byte, at + 1),
            };
            at = next;
            Some(byte)
        })
    }

    // Inline: most parts need no decoding, and the call cost more than the check.
    #[inline]
    pub fn decoded(self) -> Cow<'a, str> {
        if self.escaped {
            decode(self.raw)
        } else {
            Cow::Borrowed(self.raw)
        }
    }
}

impl<'a> From<Encoded<'a>> for Cow<'a, str> {
    fn from(part: Encoded<'a>) -> Cow<'a, str> {
        part.decoded()
    }
}

/// What a byte is to the form reader; most are [`PLAIN`], and a table answers in one load
/// what a `match` answered in several branches.
const PLAIN: u8 = 0;
const AMPERSAND: u8 = 1;
const EQUALS: u8 = 2;
const ESCAPE: u8 = 3;
static CLASS: [u8; 256] = {
    let mut class = [PLAIN; 256];
    class[b'&' as usize] = AMPERSAND;
    class[b'=' as usize] = EQUALS;
    class[b'%' as usize] = ESCAPE;
    class[b'+' as usize] = ESCAPE;
    class
};

impl<'a> Iterator for RawPairs<'a> {
    type Item = (Encoded<'a>, Encoded<'a>);

    // Always inlined: a call is read in one loop over the pairs, and calling `next` for each
    // pair saved and restored its registers each time (180 instructions a Connect request;
    // a plain `#[inline]` was not taken).
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        while self.start < self.input.len() {
            let (mut end, mut equals) = (self.input.len(), None);
            let (mut escaped_key, mut escaped_value) = (false, false);
            for at in &mut self.specials {
                match CLASS[usize::from(self.input.as_bytes()[at])] {
                    AMPERSAND => {
                        end = at;
                        break;
                    }
                    EQUALS if equals.is_none() => equals = Some(at),
                    ESCAPE if equals.is_none() => escaped_key = true,
                    ESCAPE => escaped_value = true,
                    _ => {}
                }
            }
            // Cut at ASCII bytes: always on a character boundary.
            let part = self.input.get(self.start..end).unwrap_or("");
            let part_start = self.start;
            self.start = end + 1;
            if part.is_empty() {
                continue;
            }
            let encoded = |raw, escaped| Encoded { raw, escaped };
            self.left -= 1;
            return Some(match equals {
                Some(at) => (
                    encoded(&part[..at - part_start], escaped_key),
                    encoded(&part[at - part_start + 1..], escaped_value),
                ),
                None => (encoded(part, escaped_key), encoded("", false)),
            });
        }
        None
    }
}

/// Where the bytes that are not [`PLAIN`] are, in order (for the pair scan and for [`decode`]):
/// sixteen bytes at a time, each block read once for the whole input. A byte loop took seven
/// instructions a byte; eight bytes at a time by a word's bit tricks about three; SSE2's
/// compares (x86-64, through `safe_arch`: the crate forbids `unsafe`) less than one.
struct Specials<'a> {
    blocks: &'a [[u8; 16]],
    /// The bytes after the last whole block, padded with zeros (never special).
    tail: [u8; 16],
    /// Where the block of `found` starts.
    at: usize,
    /// The special bytes of the block at `at` not yet given: bit `i` for its byte `i`.
    found: u32,
}

impl<'a> Specials<'a> {
    fn new(bytes: &'a [u8]) -> Specials<'a> {
        let (blocks, rest) = bytes.as_chunks::<16>();
        let mut tail = [0; 16];
        tail[..rest.len()].copy_from_slice(rest);
        let mut specials = Specials {
            blocks,
            tail,
            at: 0,
            found: 0,
        };
        specials.found = specials.block(0).map_or(0, special_bytes);
        specials
    }

    /// The `n`th block: a whole one, then the tail (empty if the input's length is a multiple
    /// of sixteen, and then never special).
    fn block(&self, n: usize) -> Option<&[u8; 16]> {
        match self.blocks.get(n) {
            Some(block) => Some(block),
            None if n == self.blocks.len() => Some(&self.tail),
            None => None,
        }
    }
}

impl Iterator for Specials<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.found == 0 {
            self.at += 16;
            self.found = special_bytes(self.block(self.at / 16)?);
        }
        let byte = self.found.trailing_zeros() as usize;
        self.found &= self.found - 1;
        Some(self.at + byte)
    }
}

/// Bit `i` set for each byte `i` of `block` that is `&`, `=`, `%` or `+`: four compares of
/// the sixteen bytes at once.
#[cfg(target_arch = "x86_64")]
#[inline]
fn special_bytes(block: &[u8; 16]) -> u32 {
    use safe_arch::{bitor_m128i, cmp_eq_mask_i8_m128i, move_mask_i8_m128i, set_splat_i8_m128i};
    let bytes = safe_arch::load_unaligned_m128i(block);
    let is = |byte: u8| cmp_eq_mask_i8_m128i(bytes, set_splat_i8_m128i(byte as i8));
    let any = bitor_m128i(
        bitor_m128i(is(b'&'), is(b'=')),
        bitor_m128i(is(b'%'), is(b'+')),
    );
    move_mask_i8_m128i(any) as u32
}

/// Bit `i` set for each byte `i` of `block` that is `&`, `=`, `%` or `+`, exactly: a word's
/// bit tricks eight bytes at a time (no borrow between bytes: a byte's low seven bits plus
/// `0x7f` stay within it), each byte's top bit then gathered into one.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn special_bytes(block: &[u8; 16]) -> u32 {
    special_bytes_by_words(block)
}

/// [`special_bytes`] where SSE2 is not at hand (tested on every machine).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline]
fn special_bytes_by_words(block: &[u8; 16]) -> u32 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // A byte's top bit set when it is not zero.
    let nonzero = |x: u64| ((x & LOW7) + LOW7) | x;
    let word = |bytes: &[u8]| {
        let word = u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]));
        let differs = nonzero(word ^ (ONES * u64::from(b'&')))
            & nonzero(word ^ (ONES * u64::from(b'=')))
            & nonzero(word ^ (ONES * u64::from(b'%')))
            & nonzero(word ^ (ONES * u64::from(b'+')));
        // Each byte's top bit, moved to bit 56 + i by the multiplication, with no carries.
        let top = (!differs & !LOW7) >> 7;
        (top.wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
    };
    word(&block[..8]) | word(&block[8..]) << 8
}

/// One part with a `%` or a `+`: `+` as a space, `%XX` as its byte (a `%` not followed by
/// two hex digits as itself), then UTF-8, with U+FFFD for what is not.
#[inline(never)]
fn decode(part: &str) -> Cow<'_, str> {
    let bytes = part.as_bytes();
    // Runs between escapes are copied whole; while every escape is ASCII the text stays
    // UTF-8 (an escape starts at an ASCII `%`, so on a character boundary) and needs no
    // second look. The hex digits an escape skips are never special: the next special byte
    // is past them.
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    for at in Specials::new(bytes) {
        match bytes[at] {
            b'+' => {
                out.push_str(&part[i..at]);
                out.push(' ');
                i = at + 1;
            }
            b'%' => {
                out.push_str(&part[i..at]);
                match bytes
                    .get(at + 1..at + 3)
                    .and_then(|h| Some(hex(h[0])? * 16 + hex(h[1])?))
                {
                    Some(byte) if byte.is_ascii() => {
                        out.push(char::from(byte));
                        i = at + 3;
                    }
                    Some(_) => return decode_bytes(part),
                    None => {
                        out.push('%');
                        i = at + 1;
                    }
                }
            }
            // A value's second `=`: as it stands.
            _ => {
                out.push_str(&part[i..=at]);
                i = at + 1;
            }
        }
    }
    out.push_str(&part[i..]);
    Cow::Owned(out)
}

/// [`decode`] for a part with an escape of a byte that is not ASCII: byte by byte, then
/// checked as UTF-8.
fn decode_bytes(part: &str) -> Cow<'_, str> {
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

        /// The block-at-a-time scan (SSE2 on x86-64) and the words' bit tricks find exactly
        /// the bytes a byte loop finds: bytes one bit away from a special one (its top bit
        /// set, `0x27`, `0x7f`) and zeros included, across blocks and a tail.
        #[test]
        fn specials_are_the_bytes_a_loop_finds(
            input in proptest::collection::vec(
                prop_oneof![
                    Just(b'&'), Just(b'='), Just(b'%'), Just(b'+'), Just(0xa6), Just(0xbd),
                    Just(0xa5), Just(0xab), Just(0x27), Just(0x3c), Just(0x7f), Just(0),
                    Just(b'a'), any::<u8>(),
                ],
                0..100,
            )
        ) {
            let by_words: Vec<usize> = input
                .chunks(16)
                .enumerate()
                .flat_map(|(n, chunk)| {
                    let mut block = [0; 16];
                    block[..chunk.len()].copy_from_slice(chunk);
                    let found = special_bytes_by_words(&block);
                    (0..16).filter(move |i| found >> i & 1 == 1).map(move |i| n * 16 + i)
                })
                .collect();
            let found: Vec<usize> = Specials::new(&input).collect();
            prop_assert_eq!(&by_words, &found);
            let expected: Vec<usize> = (0..input.len())
                .filter(|&i| CLASS[usize::from(input[i])] != PLAIN)
                .collect();
            prop_assert_eq!(found, expected);
        }

        /// `at_most` gives what `take` gives, empty parts skipped and not counted.
        #[test]
        fn at_most_is_take(
            input in "[a=&%+]{0,30}",
            n in 0usize..8,
        ) {
            fn raw<'a>((k, v): (Encoded<'a>, Encoded<'a>)) -> (&'a str, bool, &'a str, bool) {
                (k.raw(), k.escaped, v.raw(), v.escaped)
            }
            let capped: Vec<_> = raw_pairs(&input).at_most(n).map(raw).collect();
            let taken: Vec<_> = raw_pairs(&input).take(n).map(raw).collect();
            prop_assert_eq!(capped, taken);
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
