//! A call's record as a Redis hash: what the attempt script reads, and back.

use smol_str::SmolStr;

use crate::state::CallRecord;
use crate::state::call::Later;

/// A record read from its hash; `None` when it has none.
pub(super) fn parse_record(hash: &std::collections::HashMap<String, String>) -> Option<CallRecord> {
    let numbers = split_list(hash.get("numbers")?);
    let first_key = hash.get("first").cloned().unwrap_or_default();
    let first = hash
        .get(&format!("a:{first_key}"))
        .map_or(0, |a| split_list(a).len());
    let first_answer = &numbers[..first.min(numbers.len())];
    let offered = hash
        .get("offered")
        .map(|o| split_list(o))
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !first_answer.contains(n))
        .collect();
    let answers = hash
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("a:")?.to_string(), split_list(v))))
        .filter(|(after, _)| *after != first_key)
        .collect();
    Some(CallRecord {
        parallel: hash.get("parallel").is_some_and(|p| p == "1"),
        first_after: Some(first_key.into_boxed_str()).filter(|k| !k.is_empty()),
        first: u32::try_from(first).unwrap_or(u32::MAX),
        later: Later::boxed(offered, answers),
        until: hash.get("until").and_then(|u| u.parse().ok()).unwrap_or(0),
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
