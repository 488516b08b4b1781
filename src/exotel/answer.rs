//! Exotel's Connect "dynamic URL" answer: what to dial and how, from a decision's numbers and
//! the Connect settings.

use serde::{Deserialize, Serialize};

use crate::call::Call;
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
        match self {
            NumberFormat::E164 => e164.to_string(),
            NumberFormat::National => e164
                .strip_prefix('+')
                .and_then(|n| n.strip_prefix(country.calling_code))
                .filter(|national| {
                    (country.national_len.0..=country.national_len.1).contains(&national.len())
                })
                .map_or_else(
                    || e164.to_string(),
                    |national| format!("{}{national}", country.trunk_prefix),
                ),
        }
    }
}

/// Exotel's Connect "dynamic URL" answer: `numbers` to dial, none for queue and flow decisions
/// (Exotel then takes "We didn't dial anyone"), with the configured settings.
pub fn connect_answer(
    connect: &ConnectSettings,
    call: &Call,
    numbers: &[impl AsRef<str>],
    parallel: bool,
) -> ConnectAnswer {
    let country = crate::phone::india();
    let numbers: Vec<String> = numbers
        .iter()
        .map(|n| connect.number_format.write(n.as_ref(), country))
        .collect();
    let caller_id = match connect.outgoing_phone_number.as_deref() {
        Some("call.to") => call
            .to
            .as_ref()
            .filter(|p| p.e164)
            .map(|p| p.value.as_str()),
        Some(number) => Some(number),
        None => None,
    };
    let max_parallel_attempts = if parallel {
        numbers.len().clamp(1, connect.max_parallel_attempts.max(1))
    } else {
        1
    };
    ConnectAnswer {
        fetch_after_attempt: connect.fetch_after_attempt,
        destination: Destination { numbers },
        outgoing_phone_number: caller_id.map(|n| connect.number_format.write(n, country)),
        record: connect.record,
        recording_channels: connect.recording_channels,
        max_ringing_duration: connect.max_ringing_duration,
        max_conversation_duration: connect.max_conversation_duration,
        parallel_ringing: ParallelRinging {
            activate: parallel,
            max_parallel_attempts,
        },
    }
}

#[derive(serde::Serialize)]
pub struct ConnectAnswer {
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

#[derive(serde::Serialize)]
struct Destination {
    numbers: Vec<String>,
}

#[derive(serde::Serialize)]
struct ParallelRinging {
    activate: bool,
    max_parallel_attempts: usize,
}
