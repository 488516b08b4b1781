//! JSON text written by hand on the request path (the Connect answer, the decision log line):
//! fixed keys as literals, a string copied as it stands when nothing in it needs escaping.
//! serde escaped every key and value one character at a time; tests hold each writer equal
//! to serde's output.

use std::cell::Cell;

/// A JSON string: as it stands when nothing in it needs escaping (a phone number, a rule's
/// name), else through serde_json. Always inlined (a plain `#[inline]` was not taken): nine a
/// log line, each a call that saved and restored its registers.
#[inline(always)]
pub fn string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    if needs_escape(bytes) {
        return escaped(out, text);
    }
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

#[cold]
#[inline(never)]
fn escaped(out: &mut Vec<u8>, text: &str) {
    if serde_json::to_writer(&mut *out, text).is_err() {
        // Writing into a `Vec` does not fail; an empty string keeps the JSON whole if it did.
        out.extend_from_slice(b"\"\"");
    }
}

/// Whether a byte of `bytes` must be escaped in a JSON string: a control character, `"` or
/// `\`. Every byte is looked at, not stopping at the first to escape (rare), eight at a time
/// by a word's bit tricks (exact for "any byte"): a log line's strings are 1 to 40 bytes,
/// and a byte at a time took four instructions a byte.
#[inline]
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Not zero when a byte of `word` is below `n` (at most 128): which bits it sets may be
    // wrong, but not whether it sets one.
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH;
    let special = |w: u64| {
        below(w, 0x20)
            | below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
    };
    let Some(last) = bytes.last_chunk::<8>() else {
        // Shorter than a word: its first four bytes and its last four (which overlap), or
        // under four bytes one at a time; looking at a byte twice does not change "any".
        return match (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
            (Some(first), Some(last)) => {
                let word = u64::from(u32::from_le_bytes(*first))
                    | u64::from(u32::from_le_bytes(*last)) << 32;
                special(word) != 0
            }
            _ => bytes
                .iter()
                .any(|&b| (b < 0x20) | (b == b'"') | (b == b'\\')),
        };
    };
    // The last eight bytes overlap the last whole word: looked at twice, which does not
    // change "any".
    let (words, _) = bytes.as_chunks::<8>();
    words
        .iter()
        .chain(std::iter::once(last))
        .fold(0, |any, word| any | special(u64::from_le_bytes(*word)))
        != 0
}

/// A JSON array of strings.
pub fn strings<T: AsRef<str>>(out: &mut Vec<u8>, items: impl IntoIterator<Item = T>) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, item.as_ref());
    }
    out.push(b']');
}

/// A JSON string or `null`.
pub fn optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// A timestamp as a JSON string, RFC 3339 in UTC as its `Display` writes it (the fraction's
/// trailing zeros dropped). From 1970 to 9999 it is written here, its seconds by
/// [`second_text`] (jiff's printer took 450 instructions, two a decision); other times
/// through jiff.
pub fn timestamp(out: &mut Vec<u8>, value: jiff::Timestamp) {
    out.push(b'"');
    let (seconds, nanos) = (value.as_second(), value.subsec_nanosecond());
    match second_text(seconds) {
        Some(text) if nanos >= 0 => {
            out.extend_from_slice(&text);
            if nanos > 0 {
                let mut fraction = *b".000000000";
                digits(&mut fraction[1..], i64::from(nanos));
                let len = fraction
                    .iter()
                    .rposition(|&d| d != b'0')
                    .map_or(1, |at| at + 1);
                out.extend_from_slice(&fraction[..len]);
            }
            out.push(b'Z');
        }
        // Writing into a `Vec` does not fail.
        _ => {
            let _ = jiff::fmt::temporal::DateTimePrinter::new().print_timestamp(&value, &mut *out);
        }
    }
    out.push(b'"');
}

/// `YYYY-MM-DDTHH:MM:SS` for a second from 1970 to 9999 in UTC. The last two made on this
/// thread are kept: a decision's log line writes the call's time and the time it was
/// decided, and the lines of a busy second share both (making one took 250 instructions of
/// a new call's 35,000).
fn second_text(seconds: i64) -> Option<[u8; 19]> {
    thread_local! {
        // -1 is never asked for: only seconds from 1970 are made here.
        static LAST: Cell<(i64, [u8; 19])> = const { Cell::new((-1, [0; 19])) };
        static BEFORE: Cell<(i64, [u8; 19])> = const { Cell::new((-1, [0; 19])) };
    }
    if seconds < 0 {
        return None;
    }
    let last = LAST.get();
    if last.0 == seconds {
        return Some(last.1);
    }
    let before = BEFORE.get();
    if before.0 == seconds {
        return Some(before.1);
    }
    let (year, month, day) = days_to_date(seconds / 86_400).filter(|(year, ..)| *year <= 9999)?;
    let in_day = seconds % 86_400;
    let mut text = *b"0000-00-00T00:00:00";
    text[..10].copy_from_slice(&date(year, month, day));
    digits(&mut text[11..13], in_day / 3600);
    digits(&mut text[14..16], in_day / 60 % 60);
    digits(&mut text[17..19], in_day % 60);
    BEFORE.set(last);
    LAST.set((seconds, text));
    Some(text)
}

/// `YYYY-MM-DD`, for a year from 0 to 9999.
pub fn date(year: i64, month: i64, day: i64) -> [u8; 10] {
    let mut text = *b"0000-00-00";
    digits(&mut text[0..4], year);
    digits(&mut text[5..7], month);
    digits(&mut text[8..10], day);
    text
}

/// The civil date `days` after 1970-01-01 (proleptic Gregorian; Howard Hinnant's
/// `civil_from_days`), for days on or after it.
fn days_to_date(days: i64) -> Option<(i64, i64, i64)> {
    let z = days.checked_add(719_468).filter(|z| *z >= 0)?;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    Some((year, month, day))
}

/// `value` as decimal digits filling `into`, zero-padded (its lowest digits if it is longer;
/// a negative value's digits without its sign), two digits at a time: half the divisions.
pub fn digits(into: &mut [u8], value: i64) {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut value = value.unsigned_abs();
    let mut pairs = into.rchunks_exact_mut(2);
    for pair in &mut pairs {
        let at = (value % 100) as usize * 2;
        pair.copy_from_slice(&PAIRS[at..at + 2]);
        value /= 100;
    }
    if let [digit] = pairs.into_remainder() {
        *digit = b'0' + (value % 10) as u8;
    }
}

pub fn boolean(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

pub fn number(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Each byte, at each place in texts of each length around a word's (eight bytes, and
    /// the overlapping last word): found when it needs escaping, and nothing else is.
    #[test]
    fn an_escaped_byte_is_found_wherever_it_is() {
        for len in 0..26 {
            for at in 0..len {
                for byte in 0..=u8::MAX {
                    let mut text = vec![b'a'; len];
                    text[at] = byte;
                    let expected = byte < 0x20 || byte == b'"' || byte == b'\\';
                    assert_eq!(needs_escape(&text), expected, "{byte:#x} at {at} of {len}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn timestamps_are_what_display_writes(s in -2_208_988_800i64..253_402_300_800 + 86_400, ns in prop_oneof![Just(0i32), 0..1_000_000_000, (0..1_000_000i32).prop_map(|us| us * 1000)]) {
            let value = jiff::Timestamp::new(s, ns).expect("in range");
            let mut ours = Vec::new();
            timestamp(&mut ours, value);
            proptest::prop_assert_eq!(ours, format!("\"{value}\"").into_bytes());
        }

        /// A second's text kept from an earlier timestamp is used only for the same second.
        #[test]
        fn timestamps_in_turn_are_what_display_writes(s in 0i64..253_402_300_800, steps in proptest::collection::vec((-2i64..3, 0..1_000_000_000i32), 1..8)) {
            for (step, ns) in steps {
                let value = jiff::Timestamp::new((s + step).max(0), ns).expect("in range");
                let mut ours = Vec::new();
                timestamp(&mut ours, value);
                proptest::prop_assert_eq!(ours, format!("\"{value}\"").into_bytes());
            }
        }

        #[test]
        fn digits_are_what_format_writes(value in 0i64..i64::MAX, width in 1usize..20) {
            let mut ours = vec![b'x'; width];
            digits(&mut ours, value);
            let text = format!("{value:0width$}");
            proptest::prop_assert_eq!(ours, text.as_bytes()[text.len() - width..].to_vec());
        }

        #[test]
        fn strings_are_what_serde_writes(text in ".*") {
            let mut ours = Vec::new();
            string(&mut ours, &text);
            proptest::prop_assert_eq!(ours, serde_json::to_vec(&text).expect("serialises"));
        }
    }
}
