//! The call a decision is made for, as routec sees it: its numbers (E.164 where they read as
//! numbers), keys pressed and time. Filled by an adapter (Exotel's parameters, a test case).

use crate::phone::{self, Country};

/// A phone value as a call carries it: E.164 when it reads as a number, else the raw text,
/// which equals no phone literal and matches no prefix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PhoneValue {
    pub value: String,
    pub e164: bool,
}

impl PhoneValue {
    pub fn read(raw: &str, country: &Country) -> PhoneValue {
        match phone::normalize(raw, country) {
            Some(value) => PhoneValue { value, e164: true },
            None => PhoneValue {
                value: raw.to_string(),
                e164: false,
            },
        }
    }
}

/// The call a decision is made for, filled from Exotel's request parameters.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Call {
    pub sid: Option<String>,
    pub from: Option<PhoneValue>,
    pub to: Option<PhoneValue>,
    pub direction: Option<String>,
    pub digits: Option<String>,
    pub custom: Option<String>,
    pub flow_id: Option<String>,
    /// The agent Exotel dialled last (`DialWhomNumber`), E.164 when it reads as a number.
    pub dial_whom: Option<PhoneValue>,
    /// When Exotel says the request was made (`CurrentTime`, else `StartTime`, else
    /// `Created`): Indian time without an offset, read by [`Call::instant`].
    #[serde(skip)]
    pub time: Option<jiff::civil::DateTime>,
}

impl Call {
    /// The instant Exotel says the call is at, its civil time read in `zone` (Exotel's: `exotel::indian_time`).
    pub fn instant(&self, zone: &jiff::tz::TimeZone) -> Option<jiff::Timestamp> {
        zone.to_timestamp(self.time?).ok()
    }
}
