//! Everything in Exotel's vocabulary: the parameters Exotel sends read into a [`Call`]
//! (numbers normalised, Indian time), its events, and the Connect answer.

pub mod answer;
pub mod events;
pub mod params;

use std::borrow::Cow;

use smol_str::{SmolStr, SmolStrBuilder};

use crate::call::{Call, PhoneValue};
use crate::phone::Country;
use params::Encoded;

/// Keeps what a caller can key in (`0-9 * #`) from Exotel's `digits`, which arrives wrapped in
/// double quotes (`"1"`); nothing left means no digits.
pub fn clean_digits(raw: &str) -> Option<SmolStr> {
    let digits: SmolStr = raw
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '*' || *c == '#')
        .collect();
    (!digits.is_empty()).then_some(digits)
}

/// The zone of Exotel's times: India, +05:30 all year since 1945.
pub fn indian_time() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Asia/Kolkata").unwrap_or_else(|_| {
        jiff::tz::Offset::from_seconds(5 * 3600 + 1800)
            .map_or(jiff::tz::TimeZone::UTC, jiff::tz::TimeZone::fixed)
    })
}

impl Call {
    /// Reads Exotel's parameters: names case-insensitively, `CallFrom`/`CallTo` preferred over
    /// `From`/`To`, every parameter optional, empty values treated as absent. A value is
    /// turned into text (for a form: decoded) only when its name is one a call reads, and a
    /// time only when the times before it do not read.
    pub fn from_params<'a, K: AsRef<str>, V: ParamValue<'a>>(
        params: impl IntoIterator<Item = (K, V)>,
        country: &Country,
    ) -> Call {
        let mut call = Call::default();
        let mut from = (None, None);
        let mut to = (None, None);
        // CurrentTime, StartTime, Created: the first that reads wins.
        let mut times: [Deferred<'a, V>; 3] = [Deferred::new(), Deferred::new(), Deferred::new()];
        for (name, value) in params {
            let Some(field) = Field::named(name.as_ref()) else {
                continue;
            };
            if let Some(slot) = field.time_slot() {
                times[slot].offer(value);
                continue;
            }
            if let Field::Digits = field {
                // An empty value leaves the digits as they were.
                if let Some(digits) = value.digits() {
                    call.digits = digits;
                }
                continue;
            }
            let value = trimmed(value.into());
            if value.is_empty() {
                continue;
            }
            match field {
                Field::Sid => call.sid = Some(SmolStr::new(value)),
                Field::CallFrom => from.0 = Some(value),
                Field::From => from.1 = Some(value),
                Field::CallTo => to.0 = Some(value),
                Field::To => to.1 = Some(value),
                Field::Direction => call.direction = Some(SmolStr::new(value)),
                Field::Custom => call.custom = Some(SmolStr::new(value)),
                Field::FlowId => call.flow_id = Some(SmolStr::new(value)),
                Field::DialWhom => call.dial_whom = Some(PhoneValue::read(&value, country)),
                // Read above.
                Field::Digits | Field::CurrentTime | Field::StartTime | Field::Created => {}
            }
        }
        call.from = from.0.or(from.1).map(|v| PhoneValue::read(&v, country));
        call.to = to.0.or(to.1).map(|v| PhoneValue::read(&v, country));
        // Not `find_map` over the array: its iterator moved each time about (350 instructions).
        let [current, start, created] = times;
        call.time = current
            .time()
            .or_else(|| start.time())
            .or_else(|| created.time());
        call
    }

    /// Reads the call of an Exotel request: its query, then its form or JSON body, as
    /// [`params::pairs`] reads them. A form's values are decoded only where a call reads them.
    /// Each of the query's pairs (the first [`params::MAX_PARAMS`]) is handed to `note` on the
    /// way: a Passthru's `branch` is found in the same scan of the query as its call.
    pub fn from_request_noting(
        query: Option<&str>,
        json: bool,
        body: &[u8],
        country: &Country,
        mut note: impl FnMut(Encoded<'_>, Encoded<'_>),
    ) -> Call {
        let form = if json {
            None
        } else {
            std::str::from_utf8(body).ok()
        };
        let query_pairs = params::raw_pairs(query.unwrap_or("")).at_most(params::MAX_PARAMS);
        match form {
            // A GET, as Exotel sends most: the query alone, without the chain's adapters
            // (300 instructions a request).
            Some("") => {
                let pairs = query_pairs.map(|(k, v)| {
                    note(k, v);
                    (k.decoded(), v)
                });
                Call::from_params(pairs, country)
            }
            Some(form) => {
                let query = query_pairs.inspect(|&(k, v)| note(k, v));
                let form = params::raw_pairs(form).at_most(params::MAX_PARAMS);
                let pairs = query.chain(form).take(params::MAX_PARAMS);
                Call::from_params(pairs.map(|(k, v)| (k.decoded(), v)), country)
            }
            None => {
                query_pairs.for_each(|(k, v)| note(k, v));
                let pairs = params::pairs(query, json, body);
                Call::from_params(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())), country)
            }
        }
    }
}

/// A value without the white space around it, borrowed as it came when it has none. Always
/// inlined (a plain `#[inline]` was not taken): eight a request, each moving a `Cow` in and
/// out of a call.
#[inline(always)]
fn trimmed(value: Cow<'_, str>) -> Cow<'_, str> {
    match value {
        Cow::Borrowed(text) => Cow::Borrowed(crate::phone::trim(text)),
        Cow::Owned(text) if crate::phone::trim(&text).len() == text.len() => Cow::Owned(text),
        Cow::Owned(text) => Cow::Owned(text.trim().to_string()),
    }
}

/// The parameters a call is read from.
#[derive(Clone, Copy)]
#[cfg_attr(test, derive(Debug, PartialEq))]
enum Field {
    Sid,
    CallFrom,
    From,
    CallTo,
    To,
    Direction,
    Digits,
    Custom,
    FlowId,
    DialWhom,
    CurrentTime,
    StartTime,
    Created,
}

impl Field {
    /// The field a parameter's name (in any case) is, if a call reads it: by its length
    /// first, then as one number against each known name of that length, one comparison a
    /// name rather than a loop over its letters. (Its first and last letters as well were
    /// tried: no fewer instructions.)
    fn named(name: &str) -> Option<Field> {
        let bytes = name.as_bytes();
        match bytes.len() {
            2 => Known::find::<2>(bytes, &[Known::new("to", Field::To)]),
            4 => Known::find::<4>(bytes, &[Known::new("from", Field::From)]),
            6 => Known::find::<6>(
                bytes,
                &[
                    Known::new("callto", Field::CallTo),
                    Known::new("digits", Field::Digits),
                ],
            ),
            7 => Known::find::<7>(
                bytes,
                &[
                    Known::new("callsid", Field::Sid),
                    Known::new("flow_id", Field::FlowId),
                    Known::new("created", Field::Created),
                ],
            ),
            8 => Known::find::<8>(bytes, &[Known::new("callfrom", Field::CallFrom)]),
            9 => Known::find::<9>(
                bytes,
                &[
                    Known::new("direction", Field::Direction),
                    Known::new("starttime", Field::StartTime),
                ],
            ),
            11 => Known::find::<11>(
                bytes,
                &[
                    Known::new("customfield", Field::Custom),
                    Known::new("currenttime", Field::CurrentTime),
                ],
            ),
            14 => Known::find::<14>(bytes, &[Known::new("dialwhomnumber", Field::DialWhom)]),
            _ => None,
        }
    }

    /// Which of a call's times, in the order they are tried, the field is.
    fn time_slot(self) -> Option<usize> {
        match self {
            Field::CurrentTime => Some(0),
            Field::StartTime => Some(1),
            Field::Created => Some(2),
            _ => None,
        }
    }
}

/// A name a call reads, as one number: its bytes little-endian, lower-cased.
struct Known {
    word: u128,
    /// The bit that tells a letter's two cases apart (`0x20`), at each of its letters: set
    /// in a name compared with it, so that the comparison ignores case there and only there.
    case: u128,
    field: Field,
}

impl Known {
    /// `name` (lower case, at most 16 bytes) and its field.
    const fn new(name: &str, field: Field) -> Known {
        let bytes = name.as_bytes();
        let (mut word, mut case, mut i) = (0, 0, 0);
        while i < bytes.len() {
            word |= (bytes[i] as u128) << (8 * i);
            if bytes[i].is_ascii_lowercase() {
                case |= 0x20 << (8 * i);
            }
            i += 1;
        }
        Known { word, case, field }
    }

    /// The field of the name among `known` (each `N` bytes long) that `name` is, in any
    /// case. A byte equals a letter with its case bit set only if it is that letter in one
    /// case or the other, so the comparison is exact.
    #[inline]
    fn find<const N: usize>(name: &[u8], known: &[Known]) -> Option<Field> {
        let bytes: &[u8; N] = name.try_into().ok()?;
        let mut word = 0u128;
        for (i, &byte) in bytes.iter().enumerate() {
            word |= u128::from(byte) << (8 * i);
        }
        known
            .iter()
            .find(|k| word | k.case == k.word)
            .map(|k| k.field)
    }
}

/// A parameter's value as [`Call::from_params`] is handed it: text, or a part of a form not
/// yet decoded.
pub trait ParamValue<'a>: Into<Cow<'a, str>> {
    /// The value read as a time in the form Exotel sends every time in, as it stands (see
    /// [`plain_exotel_time`]); `None`: read it decoded, by [`read_exotel_time`].
    fn plain_time(&self) -> Option<jiff::civil::DateTime>;

    /// The IVR digits in the value ([`clean_digits`]); `None` when it is empty once trimmed.
    fn digits(self) -> Option<Option<SmolStr>>
    where
        Self: Sized,
    {
        let value = trimmed(self.into());
        (!value.is_empty()).then(|| clean_digits(&value))
    }
}

impl<'a> ParamValue<'a> for &'a str {
    fn plain_time(&self) -> Option<jiff::civil::DateTime> {
        plain_exotel_time(self, false)
    }
}

impl<'a> ParamValue<'a> for Encoded<'a> {
    fn plain_time(&self) -> Option<jiff::civil::DateTime> {
        plain_exotel_time(self.raw(), true)
    }

    /// Read from the decoded bytes, without decoding the text (Exotel sends `%228%22`): the
    /// same as decoding, trimming and cleaning while every byte is ASCII, where a byte's
    /// being white space is its character's.
    fn digits(self) -> Option<Option<SmolStr>> {
        let mut digits = SmolStrBuilder::new();
        let mut blank = true;
        for byte in self.decoded_bytes() {
            if !byte.is_ascii() {
                return ParamValue::digits(self.decoded());
            }
            blank &= matches!(byte, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ');
            if byte.is_ascii_digit() || byte == b'*' || byte == b'#' {
                digits.push(char::from(byte));
            }
        }
        (!blank).then(|| (!digits.is_empty()).then(|| digits.finish()))
    }
}

impl<'a> ParamValue<'a> for Cow<'a, str> {
    fn plain_time(&self) -> Option<jiff::civil::DateTime> {
        plain_exotel_time(self, false)
    }
}

/// `2024-09-03 11:44:54` (or with a `T`), and in a `form` with its space escaped (`+`,
/// `%20`), read without decoding it or jiff's parser: the form of every time Exotel sends
/// (decoding and parsing it took 450 instructions and an allocation a request). Any other
/// text gives `None`, to be read by [`read_exotel_time`]; what this reads, that reads the
/// same (a property test holds them equal).
pub fn plain_exotel_time(text: &str, form: bool) -> Option<jiff::civil::DateTime> {
    let (date, rest) = text.as_bytes().split_at_checked(10)?;
    let time = match rest {
        [b' ' | b'T' | b't', time @ ..] => time,
        [b'+', time @ ..] if form => time,
        [b'%', b'2', b'0', time @ ..] if form => time,
        _ => return None,
    };
    if time.len() != 8 || date[4] != b'-' || date[7] != b'-' || time[2] != b':' || time[5] != b':' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0i16, |value, &digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + i16::from(digit - b'0'))
        })
    };
    // Two digits read as at most 99: they fit an `i8`.
    let small = |digits: &[u8]| number(digits).and_then(|n| i8::try_from(n).ok());
    // jiff reads a leap second as the second before it.
    let second = small(&time[6..])?;
    jiff::civil::DateTime::new(
        number(&date[..4])?,
        small(&date[5..7])?,
        small(&date[8..])?,
        small(&time[..2])?,
        small(&time[3..5])?,
        if second == 60 { 59 } else { second },
        0,
    )
    .ok()
}

/// A time parameter, kept as it came: most requests read their first time, and need not
/// decode the other two.
struct Deferred<'a, V> {
    /// The last value given.
    last: Option<V>,
    /// The last value before it that was not empty: what an empty `last` leaves standing.
    earlier: Option<Cow<'a, str>>,
}

impl<'a, V: ParamValue<'a>> Deferred<'a, V> {
    fn new() -> Self {
        Deferred {
            last: None,
            earlier: None,
        }
    }

    fn offer(&mut self, value: V) {
        // A repeat: what it replaces is read now, in case the repeat turns out empty.
        if let Some(previous) = self.last.replace(value) {
            let previous = trimmed(previous.into());
            if !previous.is_empty() {
                self.earlier = Some(previous);
            }
        }
    }

    /// The time the value that stands reads as, if it does.
    fn time(self) -> Option<jiff::civil::DateTime> {
        // A plain time is not empty: it stands.
        if let Some(time) = self.last.as_ref().and_then(V::plain_time) {
            return Some(time);
        }
        self.value().and_then(|t| read_exotel_time(&t))
    }

    /// The value that stands: the last one not empty.
    fn value(self) -> Option<Cow<'a, str>> {
        self.last
            .map(|v| trimmed(v.into()))
            .filter(|v| !v.is_empty())
            .or(self.earlier)
    }
}

/// Reads Exotel's two time formats: `2024-09-03 11:44:54` and `Tue, 03 Sep 2024 11:44:54`.
pub fn read_exotel_time(text: &str) -> Option<jiff::civil::DateTime> {
    let text = text.trim();
    text.parse::<jiff::civil::DateTime>()
        .ok()
        .or_else(|| jiff::civil::DateTime::strptime("%a, %d %b %Y %H:%M:%S", text).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone;

    #[test]
    fn reads_the_real_request() {
        let params = [
            ("CallSid", "9953099079d70b89bbc1aa43ae6d1893"),
            ("CallFrom", "09901320691"),
            ("CallTo", "08069891522"),
            ("Direction", "incoming"),
            ("DialWhomNumber", ""),
            ("flow_id", "11754"),
            ("From", "09901320691"),
            ("To", "08069891522"),
            ("digits", "\"8\""),
            ("EndTime", "1970-01-01 05:30:00"),
            ("CurrentTime", "2024-09-03 11:44:59"),
        ];
        let call = Call::from_params(params, phone::india());
        assert_eq!(call.from.as_ref().unwrap().value, "+919901320691");
        assert_eq!(call.to.as_ref().unwrap().value, "+918069891522");
        assert_eq!(call.digits.as_deref(), Some("8"));
        assert_eq!(call.flow_id.as_deref(), Some("11754"));
        assert_eq!(call.dial_whom, None);
        assert_eq!(
            call.time,
            Some(jiff::civil::date(2024, 9, 3).at(11, 44, 59, 0))
        );
    }

    #[test]
    fn names_in_any_case_and_the_first_time_that_reads() {
        let params = [
            ("CALLSID", "c1"),
            ("digits", "\"2\""),
            ("CurrentTime", "not a time"),
            ("Created", "Tue, 03 Sep 2024 11:44:54"),
            ("StartTime", "2024-09-03 11:44:50"),
            ("AVeryLongParameterNameIndeed", "x"),
        ];
        let call = Call::from_params(params, phone::india());
        assert_eq!(call.sid.as_deref(), Some("c1"));
        assert_eq!(call.digits.as_deref(), Some("2"));
        // CurrentTime does not read: StartTime, before Created.
        assert_eq!(
            call.time,
            Some(jiff::civil::date(2024, 9, 3).at(11, 44, 50, 0))
        );
    }

    /// Every name a call reads, lower-cased, and its field.
    const NAMES: [(&str, Field); 13] = [
        ("to", Field::To),
        ("from", Field::From),
        ("callto", Field::CallTo),
        ("digits", Field::Digits),
        ("callsid", Field::Sid),
        ("created", Field::Created),
        ("flow_id", Field::FlowId),
        ("callfrom", Field::CallFrom),
        ("direction", Field::Direction),
        ("starttime", Field::StartTime),
        ("customfield", Field::Custom),
        ("currenttime", Field::CurrentTime),
        ("dialwhomnumber", Field::DialWhom),
    ];

    proptest::proptest! {
        /// A name is the field whose name it is in any case, and no other.
        #[test]
        fn a_name_is_its_field_in_any_case(
            name in "(?i)(to|from|callto|digits|callsid|created|flow_id|callfrom|direction|starttime|customfield|currenttime|dialwhomnumber|endtime|tenant_id|calltype|flow|fLOW-ID|fLOW\u{7f}ID|cREATEd|créated|cal\u{c}to)|[a-zA-Z_@`\\-\u{7f}\u{c}é]{0,15}"
        ) {
            let lower = name.to_ascii_lowercase();
            let expected = NAMES.iter().find(|(known, _)| *known == lower).map(|(_, field)| *field);
            proptest::prop_assert_eq!(Field::named(&name), expected);
        }
    }

    #[test]
    fn exotel_times_read_plain_as_they_come() {
        let t = jiff::civil::date(2024, 9, 3).at(11, 44, 59, 0);
        for (text, form) in [
            ("2024-09-03 11:44:59", false),
            ("2024-09-03T11:44:59", false),
            ("2024-09-03%2011:44:59", true),
            ("2024-09-03+11:44:59", true),
        ] {
            assert_eq!(plain_exotel_time(text, form), Some(t), "{text}");
        }
        // Left to jiff: another form, a `+` that is not a space, a day that does not exist.
        for (text, form) in [
            ("2024-09-03 11:44", false),
            ("2024-09-03+11:44:59", false),
            ("2024-02-30 11:44:59", false),
            ("Tue, 03 Sep 2024 11:44:54", false),
        ] {
            assert_eq!(plain_exotel_time(text, form), None, "{text}");
        }
    }

    proptest::proptest! {
        /// Digits read from a form's part as it stands are those of its decoded text.
        #[test]
        fn digits_read_undecoded_are_the_decoded_texts(
            part in "(%2[0-9A-Fa-f]|%0[9A-Da-d]|%C2%A0|%E3%80%80|%ff|%[0-9]|[0-9*#+ \"x%])*"
        ) {
            let form = format!("digits={part}");
            let (_, encoded) = params::raw_pairs(&form).next().unwrap();
            let decoded = encoded.decoded();
            proptest::prop_assert_eq!(
                ParamValue::digits(encoded),
                ParamValue::digits(decoded.clone()),
                "{:?}",
                decoded
            );
        }

        /// What the plain reader reads, jiff reads the same from the decoded text.
        #[test]
        fn a_plain_time_reads_as_jiff_reads_it(
            text in "[0-9]{4}-(0[0-9]|1[0-3])-([0-2][0-9]|3[0-2])( |T|t|\\+|%20|%2|x)([01][0-9]|2[0-4]):[0-6][0-9]:[0-6][0-9]|[0-9 T:+%-]{8,24}",
            form: bool,
        ) {
            let decoded = if form {
                params::form_pairs(&format!("t={text}")).next().map(|(_, v)| v.into_owned())
            } else {
                Some(text.clone())
            };
            let plain = plain_exotel_time(&text, form);
            // And what jiff reads in the form of Exotel's times, the plain reader reads.
            let exotels = text.len() == 19 && text.bytes().filter(u8::is_ascii_digit).count() == 14;
            if plain.is_some() || exotels {
                proptest::prop_assert_eq!(plain, decoded.as_deref().and_then(read_exotel_time));
            }
        }
    }

    #[test]
    fn both_time_formats_read() {
        let t = jiff::civil::date(2024, 9, 3).at(11, 44, 54, 0);
        assert_eq!(read_exotel_time("2024-09-03 11:44:54"), Some(t));
        assert_eq!(read_exotel_time("Tue, 03 Sep 2024 11:44:54"), Some(t));
        assert_eq!(read_exotel_time("yesterday"), None);
        let call = Call::from_params([("Created", "Tue, 03 Sep 2024 11:44:54")], phone::india());
        assert_eq!(call.time, Some(t));
    }

    #[test]
    fn names_are_case_insensitive_and_callfrom_wins() {
        let call = Call::from_params(
            [("from", "+919800000001"), ("Callfrom", "09800000002")],
            phone::india(),
        );
        assert_eq!(call.from.unwrap().value, "+919800000002");
    }

    #[test]
    fn digits_quotes_are_stripped() {
        assert_eq!(clean_digits("\"1\"").as_deref(), Some("1"));
        assert_eq!(clean_digits("1").as_deref(), Some("1"));
        assert_eq!(clean_digits("\"12#\"").as_deref(), Some("12#"));
        assert_eq!(clean_digits("\"\""), None);
    }

    /// A part of a form: one of the names a call reads (in any case) or another, a value
    /// with or without escapes and white space, and the separators.
    fn form_part() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            Just("CallSid".to_string()),
            Just("callfrom".to_string()),
            Just("From".to_string()),
            Just("TO".to_string()),
            Just("digits".to_string()),
            Just("CurrentTime".to_string()),
            Just("Created".to_string()),
            Just("starttime".to_string()),
            Just("DialWhomNumber".to_string()),
            Just("EndTime".to_string()),
            Just("09901320691".to_string()),
            Just("%2B919800000001".to_string()),
            Just("+0990+".to_string()),
            Just("%228%22".to_string()),
            Just("2024-09-03%2011:44:54".to_string()),
            Just("Tue,%2003%20Sep%202024%2011:44:54".to_string()),
            Just("%e0%a4%95".to_string()),
            Just("%ff".to_string()),
            Just("%4".to_string()),
            Just("%20".to_string()),
            Just(String::new()),
            Just("=".to_string()),
            Just("&".to_string()),
        ]
    }

    /// The call as the parameters say it, read plainly: names lower-cased, values trimmed,
    /// empty values skipped, the last value standing; the reference for the lazy reader.
    fn plain_call(pairs: &[(String, String)]) -> Call {
        let mut last = std::collections::HashMap::new();
        for (name, value) in pairs {
            if !value.trim().is_empty() {
                last.insert(name.to_ascii_lowercase(), value.trim().to_string());
            }
        }
        let get = |name: &str| last.get(name).map(String::as_str);
        let text = |name: &str| get(name).map(SmolStr::new);
        let phone = |v: &str| PhoneValue::read(v, phone::india());
        Call {
            sid: text("callsid"),
            from: get("callfrom").or(get("from")).map(phone),
            to: get("callto").or(get("to")).map(phone),
            direction: text("direction"),
            digits: get("digits").and_then(clean_digits),
            custom: text("customfield"),
            flow_id: text("flow_id"),
            dial_whom: get("dialwhomnumber").map(phone),
            time: ["currenttime", "starttime", "created"]
                .into_iter()
                .find_map(|name| get(name).and_then(read_exotel_time)),
        }
    }

    proptest::proptest! {
        /// The reader, which decodes a value only where it must, reads what the parameters
        /// plainly say, repeats and empty values included.
        #[test]
        fn a_call_is_what_its_parameters_say(
            pairs in proptest::collection::vec((form_part(), form_part()), 0..24),
        ) {
            // Name and value from the same parts, so that repeats and empty values are common.
            let form: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let form = form.join("&");
            let pairs: Vec<(String, String)> = params::form_pairs(&form)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let lazy = Call::from_params(
                params::raw_pairs(&form).map(|(k, v)| (k.decoded(), v)),
                phone::india(),
            );
            proptest::prop_assert_eq!(lazy, plain_call(&pairs));
        }

        /// A call read lazily from a request is the call read from all its pairs, and the
        /// query's pairs are noted on the way.
        #[test]
        fn a_request_reads_as_its_pairs(
            query in proptest::collection::vec(form_part(), 0..12),
            body in proptest::collection::vec(form_part(), 0..12),
            json in proptest::bool::ANY,
        ) {
            let (query, body) = (query.concat(), body.concat());
            let query = (!query.is_empty()).then_some(query.as_str());
            let pairs = params::pairs(query, json, body.as_bytes());
            let eager =
                Call::from_params(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())), phone::india());
            let mut noted = Vec::new();
            let lazy = Call::from_request_noting(query, json, body.as_bytes(), phone::india(), |k, v| {
                noted.push((k.decoded().into_owned(), v.decoded().into_owned()));
            });
            proptest::prop_assert_eq!(lazy, eager);
            // Every pair of the query is noted, in order, as the query reads.
            let query_pairs: Vec<(String, String)> = params::form_pairs(query.unwrap_or(""))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            proptest::prop_assert_eq!(noted, query_pairs);
        }
    }

    #[test]
    fn non_numbers_stay_raw() {
        let p = PhoneValue::read("sip:desk@example.com", phone::india());
        assert!(!p.e164);
        assert_eq!(p.value, "sip:desk@example.com");
    }
}
