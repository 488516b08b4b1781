//! JSON text written by hand on the request path (the Connect answer, the decision log line):
//! fixed keys as literals, a string copied as it stands when nothing in it needs escaping.
//! serde escaped every key and value one character at a time; tests hold each writer equal
//! to serde's output.

/// A JSON string: as it stands when nothing in it needs escaping (a phone number, a rule's
/// name), else through serde_json.
pub fn string(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, text).is_err() {
        // Writing into a `Vec` does not fail; an empty string keeps the JSON whole if it did.
        out.extend_from_slice(b"\"\"");
    }
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

/// A timestamp as a JSON string, RFC 3339 as its `Display` writes it, printed straight into
/// the line: through `Display` the formatting machinery cost 500 instructions a timestamp.
pub fn timestamp(out: &mut Vec<u8>, value: jiff::Timestamp) {
    out.push(b'"');
    // Writing into a `Vec` does not fail.
    let _ = jiff::fmt::temporal::DateTimePrinter::new().print_timestamp(&value, &mut *out);
    out.push(b'"');
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

    proptest::proptest! {
        #[test]
        fn timestamps_are_what_display_writes(s in -2_208_988_800i64..7_258_118_400, ns in 0..1_000_000_000i32) {
            let value = jiff::Timestamp::new(s, ns).expect("in range");
            let mut ours = Vec::new();
            timestamp(&mut ours, value);
            proptest::prop_assert_eq!(ours, format!("\"{value}\"").into_bytes());
        }

        #[test]
        fn strings_are_what_serde_writes(text in ".*") {
            let mut ours = Vec::new();
            string(&mut ours, &text);
            proptest::prop_assert_eq!(ours, serde_json::to_vec(&text).expect("serialises"));
        }
    }
}
