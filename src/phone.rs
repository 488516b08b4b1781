//! Phone numbers: normalises what Exotel and operators write to E.164 for a policy's country.

/// A country's dialling facts, enough to read national numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    pub code: &'static str,
    /// Country calling code, without `+`.
    pub calling_code: &'static str,
    /// Length of a national significant number (the number without trunk prefix).
    pub national_len: (usize, usize),
    /// The trunk prefix dialled before national numbers (`0` in India).
    pub trunk_prefix: &'static str,
    /// National numbers of another length, by their first digits: India's toll-free
    /// `1800…` and shared-cost `1860…` numbers. Dialled without the trunk prefix.
    pub special: &'static [(&'static str, usize, usize)],
}

const fn country(
    code: &'static str,
    calling_code: &'static str,
    min: usize,
    max: usize,
    trunk_prefix: &'static str,
) -> Country {
    Country {
        code,
        calling_code,
        national_len: (min, max),
        trunk_prefix,
        special: &[],
    }
}

/// Countries routec can read national numbers of. Others can still use E.164 numbers.
pub const COUNTRIES: &[Country] = &[
    Country {
        special: &[("1800", 10, 11), ("1860", 11, 11)],
        ..country("IN", "91", 10, 10, "0")
    },
    country("AE", "971", 8, 9, "0"),
    country("AU", "61", 9, 9, "0"),
    country("BD", "880", 10, 10, "0"),
    country("BR", "55", 10, 11, "0"),
    country("CA", "1", 10, 10, "1"),
    country("CN", "86", 10, 11, "0"),
    country("DE", "49", 6, 13, "0"),
    country("ES", "34", 9, 9, ""),
    country("FR", "33", 9, 9, "0"),
    country("GB", "44", 9, 10, "0"),
    country("HK", "852", 8, 8, ""),
    country("ID", "62", 9, 12, "0"),
    country("IE", "353", 7, 9, "0"),
    country("IT", "39", 6, 11, ""),
    country("JP", "81", 9, 10, "0"),
    country("KE", "254", 9, 9, "0"),
    country("LK", "94", 9, 9, "0"),
    country("MX", "52", 10, 10, ""),
    country("MY", "60", 9, 10, "0"),
    country("NG", "234", 8, 10, "0"),
    country("NL", "31", 9, 9, "0"),
    country("NP", "977", 8, 10, "0"),
    country("NZ", "64", 8, 10, "0"),
    country("PH", "63", 10, 10, "0"),
    country("PK", "92", 10, 10, "0"),
    country("QA", "974", 8, 8, ""),
    country("SA", "966", 9, 9, "0"),
    country("SG", "65", 8, 8, ""),
    country("TH", "66", 8, 9, "0"),
    country("US", "1", 10, 10, "1"),
    country("ZA", "27", 9, 9, "0"),
];

pub fn country_by_code(code: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

pub fn india() -> &'static Country {
    &COUNTRIES[0]
}

impl Country {
    /// Whether `national` (digits, no trunk prefix) is as long as this country's numbers are.
    fn fits(&self, national: &[u8]) -> bool {
        let (min, max) = self.national_len;
        let special = self
            .special
            .iter()
            .find(|(p, _, _)| national.starts_with(p.as_bytes()));
        match special {
            Some((_, min, max)) => (*min..=*max).contains(&national.len()),
            None => (min..=max).contains(&national.len()),
        }
    }
}

/// Whether international digits (after `+`) are a number: as long as numbers of their country
/// are, where routec knows the country; else 8 to 15 digits.
fn fits_international(digits: &[u8]) -> bool {
    if !(8..=15).contains(&digits.len()) {
        return false;
    }
    // Calling codes are prefix-free: at most one matches.
    COUNTRIES
        .iter()
        .find(|c| digits.starts_with(c.calling_code.as_bytes()))
        .is_none_or(|c| {
            digits
                .get(c.calling_code.len()..)
                .is_some_and(|n| c.fits(n))
        })
}

/// A phone number in E.164, kept inline: normalising one allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct E164 {
    bytes: [u8; E164::MAX],
    len: usize,
}

impl E164 {
    /// Room for `+` and more digits than any E.164 number has (15).
    const MAX: usize = 24;

    /// `+` and the parts, if they fit.
    fn join(parts: &[&[u8]]) -> Option<E164> {
        let mut out = E164 {
            bytes: [0; E164::MAX],
            len: 1,
        };
        out.bytes[0] = b'+';
        for part in parts {
            let end = out.len + part.len();
            out.bytes.get_mut(out.len..end)?.copy_from_slice(part);
            out.len = end;
        }
        Some(out)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and `+` are ever written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// Normalises a phone number to E.164 (`+919845012345`).
///
/// Accepts E.164, `00` international form, national form with the trunk prefix
/// (`09845012345`), the bare national number (`9845012345`) and the country code without `+`
/// (`919845012345`); spaces, dashes, dots and parentheses are ignored. Anything else
/// (`sip:…`, short codes, words) is not a phone number: `None`.
pub fn normalize(raw: &str, country: &Country) -> Option<String> {
    normalize_inline(raw, country).map(|n| n.as_str().to_string())
}

/// `str::trim`, answered at once for the usual value (a number, one of Exotel's parameters)
/// that starts and ends with a visible ASCII character: `str::trim` decodes a character at
/// each end.
#[inline]
pub fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// [`normalize`], without allocating: for the decision path.
pub fn normalize_inline(raw: &str, country: &Country) -> Option<E164> {
    let raw = trim(raw);
    let (plus, rest) = match raw.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let mut buffer = [0u8; E164::MAX];
    let mut len = 0;
    for c in rest.bytes() {
        match c {
            b'0'..=b'9' => {
                // More digits than any phone number has.
                *buffer.get_mut(len)? = c;
                len += 1;
            }
            b' ' | b'-' | b'.' | b'(' | b')' => {}
            _ => return None,
        }
    }
    // Bytes, not text: ASCII digits, with no UTF-8 check to pay for.
    let digits = &buffer[..len];
    let international = |d: &[u8]| {
        if fits_international(d) {
            E164::join(&[d])
        } else {
            None
        }
    };
    if plus {
        return international(digits);
    }
    if let Some(d) = digits.strip_prefix(b"00") {
        return international(d);
    }
    let national = |d: &[u8]| {
        if country.fits(d) {
            E164::join(&[country.calling_code.as_bytes(), d])
        } else {
            None
        }
    };
    if !country.trunk_prefix.is_empty()
        && let Some(d) = digits.strip_prefix(country.trunk_prefix.as_bytes())
        && let Some(n) = national(d)
    {
        return Some(n);
    }
    // `18001234567` is a toll-free number, not `+1` and the rest.
    if country
        .special
        .iter()
        .any(|(p, _, _)| digits.starts_with(p.as_bytes()))
        && let Some(n) = national(digits)
    {
        return Some(n);
    }
    if let Some(d) = digits.strip_prefix(country.calling_code.as_bytes())
        && country.fits(d)
    {
        return E164::join(&[digits]);
    }
    // A national significant number never starts with the trunk prefix: `0984501234` is a
    // number with a digit missing, not `+910984501234`.
    if !country.trunk_prefix.is_empty() && digits.starts_with(country.trunk_prefix.as_bytes()) {
        return None;
    }
    national(digits)
}

/// Normalises a number prefix (`+9180`, `080`) to E.164 form, for prefix matching.
pub fn normalize_prefix(raw: &str, country: &Country) -> Option<String> {
    let raw = raw.trim();
    let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(d) = raw.strip_prefix('+') {
        return digits_only(d).then(|| raw.to_string());
    }
    if let Some(d) = raw.strip_prefix("00") {
        return digits_only(d).then(|| format!("+{d}"));
    }
    if !country.trunk_prefix.is_empty()
        && let Some(d) = raw.strip_prefix(country.trunk_prefix)
    {
        return digits_only(d).then(|| format!("+{}{d}", country.calling_code));
    }
    // Toll-free numbers are written without the trunk prefix: `1800` is `+911800`.
    if digits_only(raw) && country.special.iter().any(|(p, _, _)| raw.starts_with(p)) {
        return Some(format!("+{}{raw}", country.calling_code));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indian_forms_normalise() {
        let c = india();
        for raw in [
            "09845012345",
            "+919845012345",
            "919845012345",
            "9845012345",
            "+91 98450-12345",
            "0091 9845012345",
        ] {
            assert_eq!(normalize(raw, c).as_deref(), Some("+919845012345"), "{raw}");
        }
        assert_eq!(
            normalize("08069891522", c).as_deref(),
            Some("+918069891522")
        );
    }

    #[test]
    fn non_numbers_stay_raw() {
        let c = india();
        // `0984501234` is a national number with a digit missing.
        for raw in [
            "sip:agent@example.com",
            "12345",
            "",
            "+",
            "abc",
            "0",
            "0984501234",
        ] {
            assert_eq!(normalize(raw, c), None, "{raw}");
        }
    }

    #[test]
    fn indian_toll_free_numbers_are_numbers() {
        let c = india();
        for raw in [
            "18001234567",
            "1800-123-4567",
            "+9118001234567",
            "9118001234567",
        ] {
            assert_eq!(
                normalize(raw, c).as_deref(),
                Some("+9118001234567"),
                "{raw}"
            );
        }
        assert_eq!(normalize("1800123456", c).as_deref(), Some("+911800123456"));
        assert_eq!(
            normalize("18601234567", c).as_deref(),
            Some("+9118601234567")
        );
        assert_eq!(normalize_prefix("1800", c).as_deref(), Some("+911800"));
        // Too short or too long for a toll-free number.
        assert_eq!(normalize("180012345", c), None);
        assert_eq!(normalize("180012345678", c), None);
    }

    #[test]
    fn e164_numbers_have_their_countrys_length() {
        let c = india();
        // An Indian mobile number with a digit missing, or one too many.
        assert_eq!(normalize("+91980000000", c), None);
        assert_eq!(normalize("+9198000000012", c), None);
        assert_eq!(
            normalize("+919800000001", c).as_deref(),
            Some("+919800000001")
        );
        // Other countries by their own lengths; unknown ones by E.164's 8 to 15 digits.
        assert_eq!(
            normalize("+442071234567", c).as_deref(),
            Some("+442071234567")
        );
        assert_eq!(
            normalize("+12125550123", c).as_deref(),
            Some("+12125550123")
        );
        assert_eq!(normalize("+1212555012", c), None);
        assert_eq!(normalize("+3725551234", c).as_deref(), Some("+3725551234"));
    }

    #[test]
    fn prefixes_normalise() {
        let c = india();
        assert_eq!(normalize_prefix("+9180", c).as_deref(), Some("+9180"));
        assert_eq!(normalize_prefix("080", c).as_deref(), Some("+9180"));
        assert_eq!(normalize_prefix("9180", c), None);
        assert_eq!(normalize_prefix("+91a", c), None);
    }
}
