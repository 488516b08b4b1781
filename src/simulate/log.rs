//! Reads a call log for `routec simulate`, a CSV export of Exotel's call details (with a
//! header row) or routec's own decision log (JSON lines), into calls ready to replay; each
//! line that does not read is reported with its number.

use serde_json::{Value as J, json};

use crate::call::Call;
use crate::check::model::{CheckedPolicy, Type};
use crate::facts::Facts;

/// One call of the log, read for one policy.
#[derive(Debug, Clone)]
pub struct LoggedCall {
    pub sid: String,
    pub at: jiff::Timestamp,
    /// The call's day and hour in the policy's time zone (read once, not at each replay).
    pub day: jiff::civil::Date,
    pub hour: u8,
    pub call: Call,
    pub facts: Facts,
    /// Seconds talked; 0 when unanswered or not given.
    pub talked: i64,
    /// Its status was `completed`.
    pub answered: bool,
    /// Seconds the call lasted, talked or ringing: how long its offered agents stay reserved.
    pub lasted: i64,
    /// Per facts group: the log gave it (a lookup leaves it alone).
    pub given: Vec<bool>,
}

impl LoggedCall {
    /// A call at `at`, with its day and hour in the policy's time zone; `(seconds talked,
    /// answered)`.
    fn new(
        policy: &CheckedPolicy,
        sid: String,
        at: jiff::Timestamp,
        call: Call,
        (facts, given): (Facts, Vec<bool>),
        (talked, answered): (i64, bool),
    ) -> LoggedCall {
        let local = at.to_zoned_datetime(policy.timezone.clone());
        LoggedCall {
            sid,
            at,
            day: local.date(),
            hour: local.hour() as u8,
            call,
            facts,
            talked: if answered { talked } else { 0 },
            answered,
            lasted: talked,
            given,
        }
    }
}

/// A line that did not read: its number (the header is line 1) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    pub file: String,
    pub line: u64,
    pub why: String,
}

/// Which column holds what, by the header's names (case-insensitive).
struct Columns {
    sid: Option<usize>,
    start: Option<usize>,
    from: Option<usize>,
    to: Option<usize>,
    digits: Option<usize>,
    duration: Option<usize>,
    status: Option<usize>,
    /// `facts.GROUP.FIELD` columns.
    facts: Vec<(usize, String, String)>,
}

impl Columns {
    fn of(header: &csv::StringRecord) -> Columns {
        let names: Vec<String> = header
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let find = |wanted: &[&str]| {
            wanted
                .iter()
                .find_map(|w| names.iter().position(|n| n == w))
        };
        let facts = header
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let rest = h.trim().strip_prefix("facts.")?;
                let (group, field) = rest.split_once('.')?;
                Some((i, group.to_string(), field.to_string()))
            })
            .collect();
        Columns {
            sid: find(&["callsid", "sid"]),
            start: find(&["starttime"]),
            from: find(&["callfrom", "from"]),
            to: find(&["callto", "to"]),
            digits: find(&["digits"]),
            duration: find(&["dialcallduration", "duration"]),
            status: find(&["status"]),
            facts,
        }
    }
}

/// A fact's text as the JSON value its field's type reads.
fn fact_value(policy: &CheckedPolicy, group: &str, field: &str, text: &str) -> J {
    let ty = policy
        .facts
        .iter()
        .find(|g| g.name == group)
        .and_then(|g| g.fields.iter().find(|f| f.name == field))
        .map(|f| f.ty);
    match ty {
        Some(Type::Number) => text
            .parse::<f64>()
            .map_or_else(|_| json!(text), |n| json!(n)),
        Some(Type::Bool) => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => json!(true),
            "false" | "no" | "0" => json!(false),
            _ => json!(text),
        },
        _ => json!(text),
    }
}

/// A start time: with an offset as written, else in `zone` (Exotel's `2024-09-03 11:44:54`).
fn start_time(text: &str, zone: &jiff::tz::TimeZone) -> Option<jiff::Timestamp> {
    if let Ok(t) = text.trim().parse::<jiff::Timestamp>() {
        return Some(t);
    }
    let civil = crate::exotel::read_exotel_time(text)?;
    zone.to_timestamp(civil).ok()
}

/// Reads a CSV call log for `policy`; calls in file order, and the lines that did not read.
/// `progress` is told, now and then, how many bytes of `text` have been read.
pub fn read_csv(
    policy: &CheckedPolicy,
    name: &str,
    text: &str,
    progress: &dyn Fn(u64),
) -> Result<(Vec<LoggedCall>, Vec<BadLine>), String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("{name}: the header row does not read: {e}"))?
        .clone();
    let cols = Columns::of(&header);
    if cols.start.is_none() {
        return Err(format!("{name}: no `StartTime` column"));
    }
    let mut calls = Vec::new();
    let mut bad = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let position = record.as_ref().ok().and_then(|r| r.position());
        let line = position.map_or(i as u64 + 2, |p| p.line());
        if i % 4096 == 0
            && let Some(p) = position
        {
            progress(p.byte());
        }
        let result = record
            .map_err(|e| e.to_string())
            .and_then(|r| row(policy, &cols, &r, i));
        match result {
            Ok(call) => calls.push(call),
            Err(why) => bad.push(BadLine {
                file: name.to_string(),
                line,
                why,
            }),
        }
    }
    Ok((calls, bad))
}

fn row(
    policy: &CheckedPolicy,
    cols: &Columns,
    r: &csv::StringRecord,
    index: usize,
) -> Result<LoggedCall, String> {
    let get = |c: Option<usize>| {
        c.and_then(|i| r.get(i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let start = get(cols.start).ok_or("no StartTime")?;
    let at = start_time(start, &policy.timezone)
        .ok_or_else(|| format!("StartTime `{start}` is not a time"))?;
    let sid = get(cols.sid).map_or_else(|| format!("row{}", index + 1), str::to_string);
    let talked = match get(cols.duration) {
        Some(d) => d
            .parse::<f64>()
            .map_err(|_| format!("duration `{d}` is not a number of seconds"))?
            .max(0.0) as i64,
        None => 0,
    };
    let answered = get(cols.status).is_some_and(|s| s.eq_ignore_ascii_case("completed"));
    let mut params: Vec<(&str, &str)> = vec![("CallSid", sid.as_str())];
    for (key, col) in [
        ("CallFrom", cols.from),
        ("CallTo", cols.to),
        ("digits", cols.digits),
    ] {
        if let Some(v) = get(col) {
            params.push((key, v));
        }
    }
    let call = Call::from_params(params, policy.country);
    let mut facts = serde_json::Map::new();
    for (i, group, field) in &cols.facts {
        if let Some(text) = r.get(*i).map(str::trim).filter(|v| !v.is_empty()) {
            let entry = facts.entry(group.clone()).or_insert_with(|| json!({}));
            entry[field.as_str()] = fact_value(policy, group, field, text);
        }
    }
    let facts = if facts.is_empty() {
        (Facts::none(policy), vec![false; policy.facts.len()])
    } else {
        let case = json!({"facts": facts});
        let case = crate::case::read(policy, &case, "", &[]).map_err(|e| e.to_string())?;
        (case.facts, case.given)
    };
    Ok(LoggedCall::new(
        policy,
        sid,
        at,
        call,
        facts,
        (talked, answered),
    ))
}

/// Reads routec's decision log (one JSON object per line, as `routec serve` writes it) for
/// `policy`. It says nothing of how calls ended: they are replayed unanswered (no occupancy),
/// and without facts.
pub fn read_decision_log(
    policy: &CheckedPolicy,
    name: &str,
    text: &str,
    progress: &dyn Fn(u64),
) -> (Vec<LoggedCall>, Vec<BadLine>) {
    let mut calls = Vec::new();
    let mut bad = Vec::new();
    let mut done = 0u64;
    for (i, line) in text.lines().enumerate() {
        done += line.len() as u64 + 1;
        if i % 4096 == 0 {
            progress(done);
        }
        if line.trim().is_empty() {
            continue;
        }
        match decision_line(policy, line, i) {
            Ok(call) => calls.push(call),
            Err(why) => bad.push(BadLine {
                file: name.to_string(),
                line: i as u64 + 1,
                why,
            }),
        }
    }
    (calls, bad)
}

fn decision_line(policy: &CheckedPolicy, line: &str, index: usize) -> Result<LoggedCall, String> {
    let v: J = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let text = |key: &str| v.get(key).and_then(J::as_str).filter(|s| !s.is_empty());
    let when = text("at")
        .or_else(|| text("ts"))
        .ok_or("no `at` (the call's time)")?;
    let at = when
        .parse::<jiff::Timestamp>()
        .map_err(|_| format!("`at` `{when}` is not a time"))?;
    let sid = text("call_sid").map_or_else(|| format!("line{}", index + 1), str::to_string);
    let mut params: Vec<(&str, &str)> = vec![("CallSid", sid.as_str())];
    for (key, field) in [("CallFrom", "from"), ("CallTo", "to"), ("digits", "digits")] {
        if let Some(value) = text(field) {
            params.push((key, value));
        }
    }
    let call = Call::from_params(params, policy.country);
    let facts = (Facts::none(policy), vec![false; policy.facts.len()]);
    Ok(LoggedCall::new(policy, sid, at, call, facts, (0, false)))
}
