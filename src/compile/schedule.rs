//! Schedules as weekly windows per weekday, in their time zone, with a set of closed days.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use crate::check::model::ScheduleDef;

const DAY: u16 = 24 * 60;

#[derive(Debug, Clone)]
pub struct CompiledSchedule {
    pub timezone: TimeZone,
    /// Whether the schedule has its own time zone (else the policy's).
    pub own_timezone: bool,
    /// Open intervals per weekday (0 = Monday), minutes after midnight, end excluded.
    days: [Vec<(u16, u16)>; 7],
    /// foldhash, not SipHash: every decision on a schedule looks its day up here.
    closed: foldhash::HashSet<Date>,
}

impl CompiledSchedule {
    pub fn new(def: &ScheduleDef, policy_timezone: &TimeZone) -> CompiledSchedule {
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        for w in &def.windows {
            for d in 0..7usize {
                if w.days & (1 << d) == 0 {
                    continue;
                }
                if w.start < w.end {
                    days[d].push((w.start, w.end));
                } else {
                    // Runs past midnight: the evening on day d, the morning of the next day.
                    days[d].push((w.start, DAY));
                    if w.end > 0 {
                        days[(d + 1) % 7].push((0, w.end));
                    }
                }
            }
        }
        for intervals in &mut days {
            intervals.sort_unstable();
        }
        CompiledSchedule {
            timezone: def
                .timezone
                .clone()
                .unwrap_or_else(|| policy_timezone.clone()),
            own_timezone: def.timezone.is_some(),
            days,
            closed: def.closed.iter().copied().collect(),
        }
    }

    /// Adds closed days read from a file with the policy.
    pub fn add_closed(&mut self, days: impl IntoIterator<Item = Date>) {
        self.closed.extend(days);
    }

    /// Whether the schedule is open at a local time of its own time zone.
    pub fn is_open_local(&self, local: DateTime) -> bool {
        if self.closed.contains(&local.date()) {
            return false;
        }
        let weekday = local.weekday().to_monday_zero_offset() as usize;
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        self.days[weekday]
            .iter()
            .any(|&(start, end)| start <= minute && minute < end)
    }

    pub fn is_open(&self, now: jiff::Timestamp) -> bool {
        self.is_open_local(self.timezone.to_datetime(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::model::ScheduleWindow;

    fn schedule(windows: &[(u8, u16, u16)], closed: &[&str]) -> CompiledSchedule {
        let def = ScheduleDef {
            name: "s".into(),
            timezone: None,
            windows: windows
                .iter()
                .map(|&(days, start, end)| ScheduleWindow { days, start, end })
                .collect(),
            closed: closed.iter().map(|d| d.parse().unwrap()).collect(),
            closed_files: Vec::new(),
        };
        CompiledSchedule::new(&def, &TimeZone::get("Asia/Kolkata").unwrap())
    }

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn start_is_open_end_is_shut() {
        let s = schedule(&[(0b0011111, 9 * 60, 18 * 60)], &[]);
        // 2026-11-23 is a Monday.
        assert!(s.is_open(at("2026-11-23T09:00:00+05:30")));
        assert!(s.is_open(at("2026-11-23T17:59:59+05:30")));
        assert!(!s.is_open(at("2026-11-23T18:00:00+05:30")));
        assert!(!s.is_open(at("2026-11-23T08:59:59+05:30")));
        assert!(!s.is_open(at("2026-11-28T10:00:00+05:30")), "saturday");
        // 03:30 UTC is 09:00 in Kolkata.
        assert!(s.is_open(at("2026-11-23T03:30:00Z")));
    }

    #[test]
    fn overnight_windows_run_into_the_next_day() {
        let s = schedule(&[(0b0000001, 22 * 60, 6 * 60)], &[]);
        assert!(s.is_open(at("2026-11-23T23:00:00+05:30")), "monday night");
        assert!(
            s.is_open(at("2026-11-24T05:59:00+05:30")),
            "tuesday morning"
        );
        assert!(!s.is_open(at("2026-11-24T06:00:00+05:30")));
        assert!(
            !s.is_open(at("2026-11-23T05:00:00+05:30")),
            "monday morning"
        );
    }

    #[test]
    fn closed_days_are_shut_all_day() {
        let s = schedule(&[(0b1111111, 0, DAY)], &["2026-01-26"]);
        assert!(!s.is_open(at("2026-01-26T12:00:00+05:30")));
        assert!(s.is_open(at("2026-01-27T00:00:00+05:30")));
    }
}
