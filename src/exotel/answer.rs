//! Exotel's Connect "dynamic URL" answer: what to dial and how, from a decision's numbers and
//! the Connect settings.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::call::Call;
use crate::json_text;
use crate::phone::Country;

/// What the Connect answer carries besides the numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectSettings {
    pub record: bool,
    pub recording_channels: RecordingChannels,
    /// Seconds each number rings; unset: Exotel's default.
    pub max_ringing_duration: Option<u32>,
    /// Seconds a conversation may last; unset: Exotel's default.
    pub max_conversation_duration: Option<u32>,
    /// The caller id the agent sees: an ExoPhone (`+918047115777`), or `call.to` for the
    /// number the caller dialled. Either masks the caller's own number. Unset: Exotel's choice.
    pub outgoing_phone_number: Option<String>,
    pub number_format: NumberFormat,
    /// Answer one agent at a time; Exotel asks again after each unanswered attempt.
    pub fetch_after_attempt: bool,
    /// The most numbers rung at once for `ring_all` (Exotel's cap is 5 or 10).
    pub max_parallel_attempts: usize,
}

impl Default for ConnectSettings {
    fn default() -> ConnectSettings {
        ConnectSettings {
            record: false,
            recording_channels: RecordingChannels::Single,
            max_ringing_duration: None,
            max_conversation_duration: None,
            outgoing_phone_number: None,
            number_format: NumberFormat::E164,
            fetch_after_attempt: false,
            max_parallel_attempts: 5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingChannels {
    Single,
    Dual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumberFormat {
    /// `+919812345678`
    E164,
    /// `09812345678`: the country's trunk prefix and the national number.
    National,
}

impl NumberFormat {
    /// Writes an E.164 number in this format; numbers of other countries stay E.164.
    pub fn write(self, e164: &str, country: &Country) -> String {
        self.formatted(e164, country).into_owned()
    }

    /// [`NumberFormat::write`], borrowing the number where the format does not change it.
    pub fn formatted<'a>(self, e164: &'a str, country: &Country) -> Cow<'a, str> {
        match self {
            NumberFormat::E164 => Cow::Borrowed(e164),
            NumberFormat::National => e164
                .strip_prefix('+')
                .and_then(|n| n.strip_prefix(country.calling_code))
                .filter(|national| {
                    (country.national_len.0..=country.national_len.1).contains(&national.len())
                })
                .map_or(Cow::Borrowed(e164), |national| {
                    Cow::Owned(format!("{}{national}", country.trunk_prefix))
                }),
        }
    }
}

/// Exotel's Connect "dynamic URL" answer as JSON: `numbers` to dial, none for queue and flow
/// decisions (Exotel then takes "We didn't dial anyone"), with the configured settings.
///
/// Written by hand, keys as they stand, in the order and shape serde gave the answer's struct
/// (kept in the tests as `ConnectAnswer`, and held equal): serde escaped every fixed key, a
/// tenth of a Connect's instructions in all with the structure it built first. Appended to
/// `out`.
pub fn connect_answer_json(
    out: &mut Vec<u8>,
    connect: &ConnectSettings,
    call: &Call,
    numbers: &[impl AsRef<str>],
    parallel: bool,
) {
    let country = crate::phone::india();
    out.extend_from_slice(b"{\"fetch_after_attempt\":");
    json_text::boolean(out, connect.fetch_after_attempt);
    out.extend_from_slice(b",\"destination\":{\"numbers\":");
    let formatted = numbers
        .iter()
        .map(|n| connect.number_format.formatted(n.as_ref(), country));
    json_text::strings(out, formatted);
    out.push(b'}');
    if let Some(caller_id) = caller_id(connect, call) {
        out.extend_from_slice(b",\"outgoing_phone_number\":");
        json_text::string(out, &connect.number_format.formatted(caller_id, country));
    }
    out.extend_from_slice(b",\"record\":");
    json_text::boolean(out, connect.record);
    out.extend_from_slice(match connect.recording_channels {
        RecordingChannels::Single => b",\"recording_channels\":\"single\"",
        RecordingChannels::Dual => b",\"recording_channels\":\"dual\"",
    });
    if let Some(seconds) = connect.max_ringing_duration {
        out.extend_from_slice(b",\"max_ringing_duration\":");
        json_text::number(out, seconds);
    }
    if let Some(seconds) = connect.max_conversation_duration {
        out.extend_from_slice(b",\"max_conversation_duration\":");
        json_text::number(out, seconds);
    }
    out.extend_from_slice(b",\"parallel_ringing\":{\"activate\":");
    json_text::boolean(out, parallel);
    out.extend_from_slice(b",\"max_parallel_attempts\":");
    let attempts = max_parallel_attempts(connect, numbers.len(), parallel);
    json_text::number(out, attempts);
    out.extend_from_slice(b"}}");
}

/// The caller id the agent sees, unformatted: `call.to` (when it is a number) or the
/// configured number.
fn caller_id<'a>(connect: &'a ConnectSettings, call: &'a Call) -> Option<&'a str> {
    match connect.outgoing_phone_number.as_deref() {
        Some("call.to") => call
            .to
            .as_ref()
            .filter(|p| p.e164)
            .map(|p| p.value.as_str()),
        Some(number) => Some(number),
        None => None,
    }
}

fn max_parallel_attempts(connect: &ConnectSettings, numbers: usize, parallel: bool) -> usize {
    if parallel {
        numbers.clamp(1, connect.max_parallel_attempts.max(1))
    } else {
        1
    }
}

/// The Connect answer's shape, for the test that holds [`connect_answer_json`] to serde's
/// writing of it.
#[cfg(test)]
#[derive(serde::Serialize)]
struct ConnectAnswer {
    fetch_after_attempt: bool,
    destination: Destination,
    #[serde(skip_serializing_if = "Option::is_none")]
    outgoing_phone_number: Option<String>,
    record: bool,
    recording_channels: RecordingChannels,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_ringing_duration: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_conversation_duration: Option<u32>,
    parallel_ringing: ParallelRinging,
}

#[cfg(test)]
#[derive(serde::Serialize)]
struct Destination {
    numbers: Vec<String>,
}

#[cfg(test)]
#[derive(serde::Serialize)]
struct ParallelRinging {
    activate: bool,
    max_parallel_attempts: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::PhoneValue;

    fn through_serde(
        connect: &ConnectSettings,
        call: &Call,
        numbers: &[&str],
        parallel: bool,
    ) -> String {
        let country = crate::phone::india();
        let answer = ConnectAnswer {
            fetch_after_attempt: connect.fetch_after_attempt,
            destination: Destination {
                numbers: numbers
                    .iter()
                    .map(|n| connect.number_format.write(n, country))
                    .collect(),
            },
            outgoing_phone_number: caller_id(connect, call)
                .map(|n| connect.number_format.write(n, country)),
            record: connect.record,
            recording_channels: connect.recording_channels,
            max_ringing_duration: connect.max_ringing_duration,
            max_conversation_duration: connect.max_conversation_duration,
            parallel_ringing: ParallelRinging {
                activate: parallel,
                max_parallel_attempts: max_parallel_attempts(connect, numbers.len(), parallel),
            },
        };
        serde_json::to_string(&answer).expect("serialises")
    }

    proptest::proptest! {
        #[test]
        fn the_answer_is_what_serde_writes(
            fetch_after_attempt in proptest::bool::ANY,
            record in proptest::bool::ANY,
            dual in proptest::bool::ANY,
            national in proptest::bool::ANY,
            parallel in proptest::bool::ANY,
            ringing in proptest::option::of(0u32..100_000),
            conversation in proptest::option::of(0u32..100_000),
            caller_id in proptest::option::of(proptest::sample::select(vec![
                "call.to", "+918047115777", "+14155550100", "sip:\"desk\"\\\n",
            ])),
            to in proptest::option::of(proptest::sample::select(vec![
                ("+918069891522", true), ("desk\u{1}", false),
            ])),
            numbers in proptest::collection::vec(proptest::sample::select(vec![
                "+919800000001", "+14155550100", "+9198", "sip:a\"b", "tab\there", "é",
            ]), 0..7),
            max_parallel_attempts in 0usize..8,
        ) {
            let connect = ConnectSettings {
                record,
                recording_channels: if dual { RecordingChannels::Dual } else { RecordingChannels::Single },
                max_ringing_duration: ringing,
                max_conversation_duration: conversation,
                outgoing_phone_number: caller_id.map(str::to_string),
                number_format: if national { NumberFormat::National } else { NumberFormat::E164 },
                fetch_after_attempt,
                max_parallel_attempts,
            };
            let call = Call {
                to: to.map(|(value, e164)| PhoneValue { value: value.into(), e164 }),
                ..Call::default()
            };
            let mut ours = Vec::new();
            connect_answer_json(&mut ours, &connect, &call, &numbers, parallel);
            let ours = String::from_utf8(ours).expect("UTF-8");
            proptest::prop_assert_eq!(ours, through_serde(&connect, &call, &numbers, parallel));
        }
    }
}
