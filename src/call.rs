//! The call a decision is made for, as routec sees it: its numbers (E.164 where they read as
//! numbers), keys pressed and time. Filled by an adapter (Exotel's parameters, a test case).

use smol_str::SmolStr;

use crate::phone::{self, Country};

/// A phone value as a call carries it: E.164 when it reads as a number, else the raw text,
/// which equals no phone literal and matches no prefix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PhoneValue {
    pub value: SmolStr,
    pub e164: bool,
}

impl PhoneValue {
    pub fn read(raw: &str, country: &Country) -> PhoneValue {
        // Normalised on the stack: an E.164 number fits a `SmolStr` inline.
        match phone::normalize_inline(raw, country) {
            Some(value) => PhoneValue {
                value: SmolStr::new(value.as_str()),
                e164: true,
            },
            None => PhoneValue {
                value: raw.into(),
                e164: false,
            },
        }
    }
}

/// The call a decision is made for, filled from Exotel's request parameters. Its texts are
/// [`SmolStr`]s: a number, a direction or the digits pressed (up to 23 bytes) is kept inline
/// with no allocation, and a longer one (a `CallSid`) is shared, not copied, when cloned.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Call {
    pub sid: Option<SmolStr>,
    pub from: Option<PhoneValue>,
    pub to: Option<PhoneValue>,
    pub direction: Option<SmolStr>,
    pub digits: Option<SmolStr>,
    pub custom: Option<SmolStr>,
    pub flow_id: Option<SmolStr>,
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
