//! A call's record as the text Redis keeps under `{PREFIX}:record:CALLSID`: a line a field,
//! its name and value apart by a tab (what the attempt script reads and rewrites), and back.

use std::collections::HashMap;

use smol_str::SmolStr;

use crate::state::CallRecord;
use crate::state::call::Later;

/// A record's text, its fields written in turn by [`RecordText::field`].
#[derive(Default)]
pub(super) struct RecordText(String);

impl RecordText {
    pub(super) fn with_capacity(bytes: usize) -> RecordText {
        RecordText(String::with_capacity(bytes))
    }

    /// Adds a field. Tabs and line breaks in it become spaces: the text has no other way to
    /// hold them, and the attempt script cleans the number it looks up the same way.
    pub(super) fn field(&mut self, name: &str, value: &str) -> &mut Self {
        self.list(&[name], [value])
    }

    /// Adds a field whose name is `name`'s parts together, and whose value is `values` apart
    /// by commas, as [`RecordText::field`] adds a name and a value.
    pub(super) fn list<'v>(
        &mut self,
        name: &[&str],
        values: impl IntoIterator<Item = &'v str>,
    ) -> &mut Self {
        if !self.0.is_empty() {
            self.0.push('\n');
        }
        for part in name {
            push_clean(&mut self.0, part);
        }
        self.0.push('\t');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            push_clean(&mut self.0, value);
        }
        self
    }

    pub(super) fn into_string(self) -> String {
        self.0
    }
}

fn push_clean(out: &mut String, part: &str) {
    if part.bytes().any(|b| b == b'\t' || b == b'\n') {
        out.extend(
            part.chars()
                .map(|c| if matches!(c, '\t' | '\n') { ' ' } else { c }),
        );
    } else {
        out.push_str(part);
    }
}

/// A record read from its text; `None` when it has no numbers.
pub(super) fn parse_record(text: &str) -> Option<CallRecord> {
    let fields: HashMap<&str, &str> = text
        .split('\n')
        .filter_map(|line| line.split_once('\t'))
        .collect();
    let numbers = split_list(fields.get("numbers")?);
    let first_key = fields.get("first").copied().unwrap_or_default();
    let first = fields
        .get(format!("a:{first_key}").as_str())
        .map_or(0, |a| split_list(a).len());
    let first_answer = &numbers[..first.min(numbers.len())];
    let offered = fields
        .get("offered")
        .map(|o| split_list(o))
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !first_answer.contains(n))
        .collect();
    let answers = fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("a:")?.to_string(), split_list(v))))
        .filter(|(after, _)| *after != first_key)
        .collect();
    Some(CallRecord {
        parallel: fields.get("parallel").is_some_and(|p| *p == "1"),
        first_after: (!first_key.is_empty()).then(|| first_key.into()),
        first: u32::try_from(first).unwrap_or(u32::MAX),
        later: Later::boxed(offered, answers),
        until: fields
            .get("until")
            .and_then(|u| u.parse().ok())
            .unwrap_or(0),
        numbers: numbers.into(),
    })
}

/// A comma-separated list; empty for an empty text.
pub(super) fn split_list(text: &str) -> Vec<SmolStr> {
    text.split(',')
        .filter(|n| !n.is_empty())
        .map(SmolStr::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_from_its_text() {
        let mut text = RecordText::default();
        text.field("numbers", "+919800000001,+919800000002")
            .field("agents", "asha,dev")
            .field("parallel", "0")
            .field("offered", "+919800000001")
            .field("first", "")
            .field("a:", "+919800000001")
            .field("a:+919800000001", "+919800000002")
            .field("until", "7");
        let record = parse_record(&text.into_string()).expect("a record");
        assert_eq!(record.numbers.len(), 2);
        assert_eq!(record.first, 1);
        assert!(!record.parallel);
        assert_eq!(record.until, 7);
        assert!(record.first_after.is_none());
    }

    #[test]
    fn tabs_and_line_breaks_in_a_field_do_not_break_the_text() {
        let mut text = RecordText::default();
        text.field("numbers", "+919800000001")
            .field("first", "09\t1\n2")
            .field("a:09\t1\n2", "+919800000001")
            .field("until", "9");
        let text = text.into_string();
        assert_eq!(text.lines().count(), 4);
        let record = parse_record(&text).expect("a record");
        assert_eq!(record.first_after.as_deref(), Some("09 1 2"));
        assert_eq!(record.first, 1);
        assert_eq!(record.until, 9);
    }

    #[test]
    fn a_text_without_numbers_is_no_record() {
        assert!(parse_record("").is_none());
        assert!(parse_record("offered\t+919800000001").is_none());
    }
}
