//! Schedules: days, times, closed dates and time zones.

use super::*;

pub(super) fn parse_time(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// Common abbreviations and the zone people mean by them. None is a zone to write: most are
/// no IANA name, and those that are (`EST`, `MST`, `CET`) never change to summer time.
const ABBREVIATIONS: [(&str, &str); 22] = [
    ("IST", "Asia/Kolkata"),
    ("BST", "Europe/London"),
    ("WET", "Europe/London"),
    ("CET", "Europe/Paris"),
    ("CEST", "Europe/Paris"),
    ("EET", "Europe/Athens"),
    ("EST", "America/New_York"),
    ("EDT", "America/New_York"),
    ("ET", "America/New_York"),
    ("CST", "America/Chicago"),
    ("CDT", "America/Chicago"),
    ("MST", "America/Denver"),
    ("MDT", "America/Denver"),
    ("PST", "America/Los_Angeles"),
    ("PDT", "America/Los_Angeles"),
    ("PT", "America/Los_Angeles"),
    ("GST", "Asia/Dubai"),
    ("SGT", "Asia/Singapore"),
    ("HKT", "Asia/Hong_Kong"),
    ("JST", "Asia/Tokyo"),
    ("PKT", "Asia/Karachi"),
    ("AEST", "Australia/Sydney"),
];

/// Looks up an IANA time zone; on failure, the nearest known name.
pub(super) fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, Option<String>> {
    if let Some((_, meant)) = ABBREVIATIONS
        .iter()
        .find(|(abbreviation, _)| abbreviation.eq_ignore_ascii_case(name))
    {
        return Err(Some((*meant).to_string()));
    }
    jiff::tz::TimeZone::get(name).map_err(|_| {
        // Listing the time zone database reads a directory tree: once per process is enough.
        static NAMES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
            jiff::tz::db()
                .available()
                .map(|n| n.as_str().to_string())
                .collect()
        });
        let names = &*NAMES;
        nearest(name, names.iter().map(String::as_str)).or_else(|| {
            // "Kolkata" alone, or "asia/kolkata": match the last part of a name.
            let last = name.rsplit('/').next().unwrap_or(name).to_lowercase();
            names
                .iter()
                .find(|n| {
                    n.rsplit('/')
                        .next()
                        .is_some_and(|l| l.to_lowercase() == last)
                })
                .cloned()
        })
    })
}

impl<'a> Checker<'a> {
    pub(super) fn schedule_def(&mut self, s: &'a ast::ScheduleDecl) -> ScheduleDef {
        let mut def = ScheduleDef {
            name: s.name.name.clone(),
            timezone: None,
            windows: Vec::new(),
            closed: Vec::new(),
            closed_files: Vec::new(),
        };
        let mut timezone_span: Option<Span> = None;
        for line in &s.lines {
            match line {
                ast::ScheduleLine::Timezone(tz) => {
                    if let Some(first) = timezone_span {
                        self.diags.push(
                            Diagnostic::new(
                                Kind::DuplicateSetting {
                                    setting: "timezone".into(),
                                },
                                tz.span,
                            )
                            .with_related(first, "first set here"),
                        );
                        continue;
                    }
                    timezone_span = Some(tz.span);
                    match time_zone(&tz.value) {
                        Ok(zone) => def.timezone = Some(zone),
                        Err(suggestion) => self.error(
                            Kind::InvalidTimezone {
                                name: tz.value.clone(),
                                suggestion,
                            },
                            tz.span,
                        ),
                    }
                }
                ast::ScheduleLine::ClosedFrom(file) => def.closed_files.push(DataFileRef {
                    path: file.value.clone(),
                    span: file.span,
                }),
                ast::ScheduleLine::Closed(dates) => {
                    for d in dates {
                        match d.text.parse::<jiff::civil::Date>() {
                            Ok(date) => def.closed.push(date),
                            Err(_) => self.error(
                                Kind::InvalidDate {
                                    text: d.text.clone(),
                                },
                                d.span,
                            ),
                        }
                    }
                }
                ast::ScheduleLine::Window { days, times, .. } => {
                    let mut mask = 0u8;
                    for spec in days {
                        mask |= self.days(spec);
                    }
                    for range in times {
                        let start = self.time(&range.start, false);
                        let end = self.time(&range.end, true);
                        let (Some(start), Some(end)) = (start, end) else {
                            continue;
                        };
                        if start == end || (start == 0 && end == 0) {
                            self.error(Kind::EmptyWindow, range.span);
                            continue;
                        }
                        def.windows.push(ScheduleWindow {
                            days: mask,
                            start,
                            end,
                        });
                    }
                }
            }
        }
        def
    }

    /// The weekday bit mask of `mon` or `mon-fri` (ranges may wrap: `fri-mon`).
    pub(super) fn days(&mut self, spec: &ast::DaySpec) -> u8 {
        let first = self.day(&spec.first);
        let last = spec.last.as_ref().map(|l| self.day(l));
        match (first, last) {
            (Some(f), None) => 1 << f,
            (Some(f), Some(Some(l))) => {
                let mut mask = 0;
                let mut d = f;
                loop {
                    mask |= 1 << d;
                    if d == l {
                        break mask;
                    }
                    d = (d + 1) % 7;
                }
            }
            _ => 0,
        }
    }

    pub(super) fn day(&mut self, ident: &ast::Ident) -> Option<u8> {
        let lower = ident.name.to_lowercase();
        if let Some(i) = WEEKDAYS.iter().position(|d| *d == lower) {
            return Some(i as u8);
        }
        // "monday" → mon: accept full names too.
        if let Some(i) = WEEKDAYS.iter().position(|d| {
            lower.len() > 3 && lower.starts_with(d) && {
                let full = [
                    "monday",
                    "tuesday",
                    "wednesday",
                    "thursday",
                    "friday",
                    "saturday",
                    "sunday",
                ];
                full.contains(&lower.as_str())
            }
        }) {
            return Some(i as u8);
        }
        self.error(
            Kind::Unknown {
                what: What::Day,
                name: ident.name.clone(),
                suggestion: nearest(&lower, WEEKDAYS),
                scope: None,
            },
            ident.span,
        );
        None
    }

    pub(super) fn time(&mut self, t: &ast::Time, is_end: bool) -> Option<u16> {
        let kind = match parse_time(&t.text) {
            Some(m) if m == 24 * 60 && !is_end => Kind::StartAtEndOfDay,
            Some(m) => return Some(m),
            None => Kind::InvalidTime {
                text: t.text.clone(),
            },
        };
        self.error(kind, t.span);
        None
    }
}
