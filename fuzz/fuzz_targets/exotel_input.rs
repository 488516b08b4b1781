//! Fuzz target: whatever Exotel (or anyone) sends must read without a panic: a query string,
//! a form or JSON body, an event, and the case format of `routec eval` and `routec test`,
//! against a small policy. The first byte picks how the rest is read.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use routec::call::Call;
use routec::exotel::events::read_event;
use routec::exotel::params::pairs;

static POLICY: LazyLock<routec::compile::Policy> = LazyLock::new(|| {
    let text = r#"
enum Tier { standard, enterprise }
source crm http "http://127.0.0.1:9/c?p={call.from}"
facts caller from crm { tier: Tier  spend: number  "ticket.severity": string  manager: agent }
agent ravi "+919800000002" languages [en, es]
agent asha "09800000001"
team T [ravi, asha] strategy round_robin
rule vip: when caller.tier == enterprise -> agent caller.manager or team T
rule es: when call.digits == "3" -> agents where speaks "es"
otherwise -> team T
"#;
    let files = routec::policy_files::SourceFiles::single("fuzz.route", text);
    routec::load(&files).0.expect("the fuzz policy loads")
});

fuzz_target!(|data: &[u8]| {
    let Some((&how, rest)) = data.split_first() else {
        return;
    };
    let policy = &*POLICY;
    let country = policy.checked.country;
    match how % 4 {
        // A query string and a form body.
        0 | 1 => {
            let text = String::from_utf8_lossy(rest);
            let (query, body) = text.split_once('\n').unwrap_or((&text, ""));
            let read = pairs(Some(query), how % 4 == 1, body.as_bytes());
            let call = Call::from_params(read.iter().map(|(k, v)| (k.as_ref(), v.as_ref())), country);
            let _ = read_event(policy, &call, &read, jiff::Timestamp::UNIX_EPOCH);
            let _ = call.instant(&routec::exotel::indian_time());
        }
        // A JSON body.
        2 => {
            let read = pairs(None, true, rest);
            let call = Call::from_params(read.iter().map(|(k, v)| (k.as_ref(), v.as_ref())), country);
            let _ = read_event(policy, &call, &read, jiff::Timestamp::UNIX_EPOCH);
        }
        // A case of `routec eval`.
        _ => {
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(rest)
                && let Ok(case) = routec::case::read(&policy.checked, &value, "", &["name", "expect"])
            {
                let now = case.at.unwrap_or(jiff::Timestamp::UNIX_EPOCH);
                let _ = routec::eval::eval_explained(policy, &case.call, &case.facts, now, &case.agents);
            }
        }
    }
});
