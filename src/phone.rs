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
    }
}

/// Countries routec can read national numbers of. Others can still use E.164 numbers.
pub const COUNTRIES: &[Country] = &[
    country("IN", "91", 10, 10, "0"),
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

/// Normalises a phone number to E.164 (`+919845012345`).
///
/// Accepts E.164, `00` international form, national form with the trunk prefix
/// (`09845012345`), the bare national number (`9845012345`) and the country code without `+`
/// (`919845012345`); spaces, dashes, dots and parentheses are ignored. Anything else
/// (`sip:…`, short codes, words) is not a phone number: `None`.
pub fn normalize(raw: &str, country: &Country) -> Option<String> {
    let raw = raw.trim();
    let (plus, rest) = match raw.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    let international = |d: &str| (8..=15).contains(&d.len()).then(|| format!("+{d}"));
    if plus {
        return international(&digits);
    }
    if let Some(d) = digits.strip_prefix("00") {
        return international(d);
    }
    let (min, max) = country.national_len;
    let national = |d: &str| {
        (min..=max)
            .contains(&d.len())
            .then(|| format!("+{}{d}", country.calling_code))
    };
    if !country.trunk_prefix.is_empty()
        && let Some(d) = digits.strip_prefix(country.trunk_prefix)
        && let Some(n) = national(d)
    {
        return Some(n);
    }
    if let Some(d) = digits.strip_prefix(country.calling_code)
        && (min..=max).contains(&d.len())
    {
        return Some(format!("+{digits}"));
    }
    // A national significant number never starts with the trunk prefix: `0984501234` is a
    // number with a digit missing, not `+910984501234`.
    if !country.trunk_prefix.is_empty() && digits.starts_with(country.trunk_prefix) {
        return None;
    }
    national(&digits)
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
    fn prefixes_normalise() {
        let c = india();
        assert_eq!(normalize_prefix("+9180", c).as_deref(), Some("+9180"));
        assert_eq!(normalize_prefix("080", c).as_deref(), Some("+9180"));
        assert_eq!(normalize_prefix("9180", c), None);
        assert_eq!(normalize_prefix("+91a", c), None);
    }
}
