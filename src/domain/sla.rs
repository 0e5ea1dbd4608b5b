//! The SLA clock: how long an SLA is ("4h", "3d"), the business-hours
//! calendar it may be counted in, the deadline it gives from a start, and the
//! working time that has elapsed between two instants.
//!
//! Pure: no I/O and no reading of the system clock; every instant is an
//! argument. Nothing here panics on any input: far-off or degenerate cases
//! saturate (a deadline that cannot be reached is `DateTime::<Utc>::MAX_UTC`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Offset, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::{GapInfo, Tz};

/// How far a business-time computation looks ahead before giving up, so a
/// calendar whose every working day is a holiday cannot loop forever.
const MAX_DAYS: usize = 36_600; // about 100 years

/// How an SLA is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockKind {
    /// Every second counts, nights and weekends included.
    Wall,
    /// Only working time in a [`BusinessCalendar`] counts.
    Business,
}

/// A span of SLA time as written in config: "30m", "4h", "3d" (integers only, >0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaSpan {
    Minutes(u32),
    Hours(u32),
    Days(u32),
}

/// Why a piece of config text is not an [`SlaSpan`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlaSpanError {
    #[error(r#"an SLA duration is empty; write it like "30m", "4h" or "3d""#)]
    Empty,
    #[error(r#""{0}" is not a duration; write it like "30m", "4h" or "3d""#)]
    NotADuration(String),
    #[error(r#""{0}" is zero; an SLA duration must be at least 1, like "30m", "4h" or "3d""#)]
    Zero(String),
    #[error(r#""{0}" is too large for an SLA duration"#)]
    TooLarge(String),
}

impl FromStr for SlaSpan {
    type Err = SlaSpanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.is_empty() {
            return Err(SlaSpanError::Empty);
        }
        let invalid = || SlaSpanError::NotADuration(text.to_owned());
        let (digits, make): (&str, fn(u32) -> SlaSpan) = if let Some(d) = text.strip_suffix('m') {
            (d, SlaSpan::Minutes)
        } else if let Some(d) = text.strip_suffix('h') {
            (d, SlaSpan::Hours)
        } else if let Some(d) = text.strip_suffix('d') {
            (d, SlaSpan::Days)
        } else {
            return Err(invalid());
        };
        // Checked by hand because `u32::from_str` would also accept "+3".
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        match digits.parse::<u32>() {
            Ok(0) => Err(SlaSpanError::Zero(text.to_owned())),
            Ok(n) => Ok(make(n)),
            Err(_) => Err(SlaSpanError::TooLarge(text.to_owned())),
        }
    }
}

impl fmt::Display for SlaSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlaSpan::Minutes(n) => write!(f, "{n}m"),
            SlaSpan::Hours(n) => write!(f, "{n}h"),
            SlaSpan::Days(n) => write!(f, "{n}d"),
        }
    }
}

impl SlaSpan {
    /// Plain words for people: "30 minutes", "1 hour", "4 business hours",
    /// "1 business day", "3 days".
    pub fn describe(&self, clock: ClockKind) -> String {
        let (n, unit) = match *self {
            SlaSpan::Minutes(n) => (n, "minute"),
            SlaSpan::Hours(n) => (n, "hour"),
            SlaSpan::Days(n) => (n, "day"),
        };
        let business = match clock {
            ClockKind::Wall => "",
            ClockKind::Business => "business ",
        };
        let plural = if n == 1 { "" } else { "s" };
        format!("{n} {business}{unit}{plural}")
    }
}

/// Why a [`BusinessCalendar`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("a business calendar needs at least one working day of the week")]
    NoWorkingDays,
    #[error("the working day must end after it starts (got {start}–{end}); overnight hours are not supported")]
    EndNotAfterStart { start: NaiveTime, end: NaiveTime },
}

/// Working time: the days of the week that are worked, the hours of a working day
/// (local time in `tz`), and holidays (local dates).
///
/// Working time is real time between the local opening and closing instants,
/// so a day in which the clocks change during working hours is an hour
/// shorter or longer than [`working_day_length`](Self::working_day_length).
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz: Tz,
    /// Indexed by `Weekday::num_days_from_monday`.
    workdays: [bool; 7],
    day_start: NaiveTime,
    day_end: NaiveTime,
    /// Sorted and deduplicated, for binary search.
    holidays: Vec<NaiveDate>,
}

const fn at_hour(hour: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(hour, 0, 0) {
        Some(t) => t,
        None => NaiveTime::MIN,
    }
}

impl BusinessCalendar {
    pub fn new(
        tz: Tz,
        workdays: Vec<Weekday>,
        day_start: NaiveTime,
        day_end: NaiveTime,
        mut holidays: Vec<NaiveDate>,
    ) -> Result<Self, CalendarError> {
        if day_end <= day_start {
            return Err(CalendarError::EndNotAfterStart {
                start: day_start,
                end: day_end,
            });
        }
        let mut days = [false; 7];
        for day in workdays {
            if let Some(slot) = days.get_mut(day.num_days_from_monday() as usize) {
                *slot = true;
            }
        }
        if !days.contains(&true) {
            return Err(CalendarError::NoWorkingDays);
        }
        holidays.sort_unstable();
        holidays.dedup();
        Ok(Self {
            tz,
            workdays: days,
            day_start,
            day_end,
            holidays,
        })
    }

    /// Monday–Friday 09:00–17:00 UTC, no holidays.
    pub fn default_utc() -> Self {
        Self {
            tz: Tz::UTC,
            workdays: [true, true, true, true, true, false, false],
            day_start: at_hour(9),
            day_end: at_hour(17),
            holidays: Vec::new(),
        }
    }

    /// The time zone the working hours and holidays are read in.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Length of a working day on the local clock (8h for the default).
    pub fn working_day_length(&self) -> TimeDelta {
        self.day_end - self.day_start
    }

    /// Whether `at` is in working hours (opening included, closing not).
    pub fn is_working_time(&self, at: DateTime<Utc>) -> bool {
        let day = self.local_date(at);
        [day.pred_opt(), Some(day), day.succ_opt()]
            .into_iter()
            .flatten()
            .filter_map(|d| self.working_hours(d))
            .any(|(open, close)| open <= at && at < close)
    }

    fn is_workday(&self, date: NaiveDate) -> bool {
        let weekday = date.weekday().num_days_from_monday() as usize;
        self.workdays.get(weekday).copied().unwrap_or(false) && self.holidays.binary_search(&date).is_err()
    }

    /// The local date at `at`, computed without chrono's panicking
    /// `naive_local` so the ends of the representable range are safe.
    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        let utc = at.naive_utc();
        let offset = self.tz.offset_from_utc_datetime(&utc).fix();
        utc.checked_add_offset(offset).unwrap_or(utc).date()
    }

    /// The instant of a local wall-clock time: the earliest if the clocks go
    /// back over it, the moment they land if they jump over it.
    fn local_to_utc(&self, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        let local = date.and_time(time);
        match self.tz.from_local_datetime(&local).earliest() {
            Some(t) => Some(t.with_timezone(&Utc)),
            None => GapInfo::new(&local, &self.tz)?.end.map(|t| t.with_timezone(&Utc)),
        }
    }

    /// Opening and closing instants of a local date, if it is worked.
    fn working_hours(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_workday(date) {
            return None;
        }
        let open = self.local_to_utc(date, self.day_start)?;
        let close = self.local_to_utc(date, self.day_end)?;
        (close > open).then_some((open, close))
    }

    /// Local dates from the one before `at` on (a day's hours may begin
    /// before `at`'s local midnight when the UTC offset shifts), bounded.
    fn dates_from(&self, at: DateTime<Utc>) -> impl Iterator<Item = NaiveDate> {
        let day = self.local_date(at);
        let first = day.pred_opt().unwrap_or(day);
        std::iter::successors(Some(first), |d| d.succ_opt()).take(MAX_DAYS)
    }
}

impl Default for BusinessCalendar {
    fn default() -> Self {
        Self::default_utc()
    }
}

/// SLA span as a TimeDelta of counted time under the clock (Business days use
/// `working_day_length`; Wall days 24h). Saturates at `TimeDelta::MAX`.
pub fn span_duration(span: SlaSpan, clock: ClockKind, cal: &BusinessCalendar) -> TimeDelta {
    let counted = match (span, clock) {
        (SlaSpan::Minutes(n), _) => TimeDelta::try_minutes(i64::from(n)),
        (SlaSpan::Hours(n), _) => TimeDelta::try_hours(i64::from(n)),
        (SlaSpan::Days(n), ClockKind::Wall) => TimeDelta::try_days(i64::from(n)),
        (SlaSpan::Days(n), ClockKind::Business) => i32::try_from(n)
            .ok()
            .and_then(|n| cal.working_day_length().checked_mul(n)),
    };
    counted.unwrap_or(TimeDelta::MAX)
}

/// The instant at which `span` of SLA time has passed since `start`.
/// Wall: plain addition (Days = 24h each).
/// Business: only working time counts; Days = span × working_day_length (so with
/// the default calendar "3d" = 24 working hours). A start outside working hours
/// begins counting at the next working moment.
pub fn deadline(start: DateTime<Utc>, span: SlaSpan, clock: ClockKind, cal: &BusinessCalendar) -> DateTime<Utc> {
    deadline_after(start, span_duration(span, clock, cal), clock, cal)
}

/// Same, for an arbitrary amount of counted time (used when part of an SLA is
/// already spent). Zero or negative `counted` gives `start` back: the time is
/// already up. A deadline beyond the representable range, or more than about
/// 100 years of calendar away, is `DateTime::<Utc>::MAX_UTC` ("never").
pub fn deadline_after(
    start: DateTime<Utc>,
    counted: TimeDelta,
    clock: ClockKind,
    cal: &BusinessCalendar,
) -> DateTime<Utc> {
    if counted <= TimeDelta::zero() {
        return start;
    }
    if clock == ClockKind::Wall {
        return start.checked_add_signed(counted).unwrap_or(DateTime::<Utc>::MAX_UTC);
    }
    let mut remaining = counted;
    for (open, close) in cal.dates_from(start).filter_map(|d| cal.working_hours(d)) {
        let from = open.max(start);
        if from >= close {
            continue;
        }
        let available = close - from;
        // `<=` so that an SLA that runs out at closing time is due at closing,
        // not at the next opening.
        if remaining <= available {
            return from.checked_add_signed(remaining).unwrap_or(DateTime::<Utc>::MAX_UTC);
        }
        remaining -= available;
    }
    DateTime::<Utc>::MAX_UTC
}

/// The counted time between `from` and `to` (zero if to <= from). Wall: to - from.
/// Business: working time only (looking at most about 100 years past `from`).
pub fn elapsed(from: DateTime<Utc>, to: DateTime<Utc>, clock: ClockKind, cal: &BusinessCalendar) -> TimeDelta {
    if to <= from {
        return TimeDelta::zero();
    }
    if clock == ClockKind::Wall {
        return to - from;
    }
    let last_day = cal.local_date(to);
    let last_day = last_day.succ_opt().unwrap_or(last_day);
    cal.dates_from(from)
        .take_while(|d| *d <= last_day)
        .filter_map(|d| cal.working_hours(d))
        .map(|(open, close)| (open.max(from), close.min(to)))
        .filter(|(a, b)| b > a)
        .fold(TimeDelta::zero(), |total, (a, b)| {
            total.checked_add(&(b - a)).unwrap_or(TimeDelta::MAX)
        })
}

/// Where a deadline moves when a clock paused at `paused_at` resumes at
/// `resumed_at`: the counted time that was left is counted again from the
/// resume, so the time spent paused (nights and weekends included, for a
/// business clock) is not charged to the SLA.
pub fn resumed_deadline(
    due: DateTime<Utc>,
    paused_at: DateTime<Utc>,
    resumed_at: DateTime<Utc>,
    clock: ClockKind,
    cal: &BusinessCalendar,
) -> DateTime<Utc> {
    let left = elapsed(paused_at, due, clock, cal);
    deadline_after(resumed_at.max(paused_at), left, clock, cal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday::{Fri, Mon, Sat, Sun, Thu, Tue, Wed};
    use proptest::prelude::*;

    const ALL_WEEK: [Weekday; 7] = [Mon, Tue, Wed, Thu, Fri, Sat, Sun];

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn date(y: i32, mo: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn business(start: DateTime<Utc>, span: &str, cal: &BusinessCalendar) -> DateTime<Utc> {
        deadline(start, span.parse().unwrap(), ClockKind::Business, cal)
    }

    fn weekdays_in(tz: Tz) -> BusinessCalendar {
        BusinessCalendar::new(tz, vec![Mon, Tue, Wed, Thu, Fri], hm(9, 0), hm(17, 0), vec![]).unwrap()
    }

    fn every_day_in(tz: Tz, start: NaiveTime, end: NaiveTime) -> BusinessCalendar {
        BusinessCalendar::new(tz, ALL_WEEK.to_vec(), start, end, vec![]).unwrap()
    }

    // 2026-03-10 is a Tuesday, 2026-03-13 a Friday.

    #[test]
    fn wall_clock_counts_nights_and_weekends() {
        let cal = BusinessCalendar::default();
        let fri = utc(2026, 3, 13, 15, 0);
        let wall = |s: &str| deadline(fri, s.parse().unwrap(), ClockKind::Wall, &cal);
        assert_eq!(wall("4h"), utc(2026, 3, 13, 19, 0));
        assert_eq!(wall("30m"), utc(2026, 3, 13, 15, 30));
        assert_eq!(wall("3d"), utc(2026, 3, 16, 15, 0));
        let to = utc(2026, 3, 16, 15, 0);
        assert_eq!(elapsed(fri, to, ClockKind::Wall, &cal), TimeDelta::hours(72));
    }

    #[test]
    fn business_hours_within_one_day_are_plain_addition() {
        let cal = BusinessCalendar::default();
        assert_eq!(business(utc(2026, 3, 10, 10, 0), "4h", &cal), utc(2026, 3, 10, 14, 0));
    }

    #[test]
    fn business_hours_carry_over_the_night() {
        let cal = BusinessCalendar::default();
        assert_eq!(business(utc(2026, 3, 10, 15, 0), "4h", &cal), utc(2026, 3, 11, 11, 0));
    }

    #[test]
    fn four_business_hours_from_friday_afternoon_lands_on_monday() {
        let cal = BusinessCalendar::default();
        let fri = utc(2026, 3, 13, 15, 0);
        let due = business(fri, "4h", &cal);
        assert_eq!(due, utc(2026, 3, 16, 11, 0));
        assert_eq!(elapsed(fri, due, ClockKind::Business, &cal), TimeDelta::hours(4));
    }

    #[test]
    fn a_holiday_is_skipped() {
        let cal = BusinessCalendar::new(
            Tz::UTC,
            vec![Mon, Tue, Wed, Thu, Fri],
            hm(9, 0),
            hm(17, 0),
            vec![date(2026, 3, 11)],
        )
        .unwrap();
        assert_eq!(business(utc(2026, 3, 10, 15, 0), "4h", &cal), utc(2026, 3, 12, 11, 0));
        assert!(!cal.is_working_time(utc(2026, 3, 11, 12, 0)));
    }

    #[test]
    fn start_before_opening_counts_from_opening() {
        let cal = BusinessCalendar::default();
        assert_eq!(business(utc(2026, 3, 10, 7, 0), "30m", &cal), utc(2026, 3, 10, 9, 30));
    }

    #[test]
    fn start_after_closing_counts_from_next_opening() {
        let cal = BusinessCalendar::default();
        assert_eq!(business(utc(2026, 3, 10, 18, 0), "1h", &cal), utc(2026, 3, 11, 10, 0));
    }

    #[test]
    fn start_on_saturday_counts_from_monday_opening() {
        let cal = BusinessCalendar::default();
        assert_eq!(business(utc(2026, 3, 14, 12, 0), "2h", &cal), utc(2026, 3, 16, 11, 0));
    }

    #[test]
    fn business_days_are_working_day_lengths() {
        let cal = BusinessCalendar::default();
        assert_eq!(business(utc(2026, 3, 10, 10, 0), "1d", &cal), utc(2026, 3, 11, 10, 0));
        // Fri 7h + Mon 8h + Tue 8h + Wed 1h = 24 working hours.
        assert_eq!(business(utc(2026, 3, 13, 10, 0), "3d", &cal), utc(2026, 3, 18, 10, 0));
    }

    #[test]
    fn sla_running_out_at_closing_is_due_at_closing() {
        let cal = BusinessCalendar::default();
        assert_eq!(business(utc(2026, 3, 10, 9, 0), "8h", &cal), utc(2026, 3, 10, 17, 0));
    }

    #[test]
    fn thirty_business_days_is_six_working_weeks() {
        let cal = BusinessCalendar::default();
        let due = business(utc(2026, 3, 16, 9, 0), "30d", &cal);
        assert_eq!(due, utc(2026, 4, 24, 17, 0));
    }

    #[test]
    fn elapsed_business_time_skips_nights_and_weekends() {
        let cal = BusinessCalendar::default();
        let b = ClockKind::Business;
        let fri = utc(2026, 3, 13, 15, 0);
        assert_eq!(elapsed(fri, utc(2026, 3, 16, 11, 0), b, &cal), TimeDelta::hours(4));
        assert_eq!(elapsed(fri, fri, b, &cal), TimeDelta::zero());
        assert_eq!(elapsed(fri, utc(2026, 3, 1, 0, 0), b, &cal), TimeDelta::zero());
        let sat = utc(2026, 3, 14, 0, 0);
        assert_eq!(elapsed(sat, utc(2026, 3, 16, 0, 0), b, &cal), TimeDelta::zero());
    }

    #[test]
    fn zero_or_negative_counted_time_is_due_at_start() {
        let cal = BusinessCalendar::default();
        let sat = utc(2026, 3, 14, 12, 0);
        for clock in [ClockKind::Wall, ClockKind::Business] {
            assert_eq!(deadline_after(sat, TimeDelta::zero(), clock, &cal), sat);
            assert_eq!(deadline_after(sat, TimeDelta::hours(-3), clock, &cal), sat);
        }
    }

    #[test]
    fn berlin_spring_forward_keeps_eight_local_hours() {
        // Clocks go 02:00 CET -> 03:00 CEST on Sunday 2026-03-29.
        let cal = every_day_in(chrono_tz::Europe::Berlin, hm(9, 0), hm(17, 0));
        // Saturday 09:00-17:00 CET is 08:00-16:00 UTC; Sunday CEST is 07:00-15:00 UTC.
        assert_eq!(business(utc(2026, 3, 28, 16, 0), "8h", &cal), utc(2026, 3, 29, 15, 0));
        // Sat 12:00 CET + 8h = 5h Sat + 3h Sun -> Sun 12:00 CEST = 10:00 UTC.
        assert_eq!(business(utc(2026, 3, 28, 11, 0), "8h", &cal), utc(2026, 3, 29, 10, 0));
        let weekend = elapsed(
            utc(2026, 3, 28, 0, 0),
            utc(2026, 3, 30, 0, 0),
            ClockKind::Business,
            &cal,
        );
        assert_eq!(weekend, TimeDelta::hours(16));
        assert!(cal.is_working_time(utc(2026, 3, 29, 7, 0)));
        assert!(!cal.is_working_time(utc(2026, 3, 29, 15, 0)));
    }

    #[test]
    fn berlin_fall_back_keeps_eight_local_hours() {
        // Clocks go 03:00 CEST -> 02:00 CET on Sunday 2026-10-25.
        let cal = every_day_in(chrono_tz::Europe::Berlin, hm(9, 0), hm(17, 0));
        // Saturday CEST is 07:00-15:00 UTC; Sunday CET is 08:00-16:00 UTC.
        assert_eq!(business(utc(2026, 10, 24, 15, 0), "8h", &cal), utc(2026, 10, 25, 16, 0));
        assert_eq!(business(utc(2026, 10, 24, 11, 0), "8h", &cal), utc(2026, 10, 25, 12, 0));
        let weekend = elapsed(
            utc(2026, 10, 24, 0, 0),
            utc(2026, 10, 26, 0, 0),
            ClockKind::Business,
            &cal,
        );
        assert_eq!(weekend, TimeDelta::hours(16));
        assert!(!cal.is_working_time(utc(2026, 10, 25, 7, 30)));
        assert!(cal.is_working_time(utc(2026, 10, 25, 8, 0)));
    }

    #[test]
    fn working_hours_inside_a_dst_change_use_real_time() {
        // 02:30 does not exist on 2026-03-29 (opening moves to 03:00 CEST =
        // 01:00 UTC) and happens twice on 2026-10-25 (the earlier one counts).
        let cal = every_day_in(chrono_tz::Europe::Berlin, hm(2, 30), hm(4, 0));
        let day = |y, m, d: u32| elapsed(utc(y, m, d - 1, 12, 0), utc(y, m, d, 12, 0), ClockKind::Business, &cal);
        assert_eq!(day(2026, 3, 28), TimeDelta::minutes(90));
        assert_eq!(day(2026, 3, 29), TimeDelta::hours(1));
        assert_eq!(day(2026, 10, 25), TimeDelta::minutes(150));
        assert_eq!(business(utc(2026, 3, 29, 0, 0), "30m", &cal), utc(2026, 3, 29, 1, 30));
        assert_eq!(business(utc(2026, 10, 25, 0, 0), "30m", &cal), utc(2026, 10, 25, 1, 0));
    }

    #[test]
    fn new_york_weekend_across_spring_forward() {
        // DST starts Sunday 2026-03-08: Friday is UTC-5, Monday UTC-4.
        let cal = weekdays_in(chrono_tz::America::New_York);
        // Fri 16:00 EST (21:00 UTC) + 2h = 1h Fri + 1h Mon -> Mon 10:00 EDT.
        assert_eq!(business(utc(2026, 3, 6, 21, 0), "2h", &cal), utc(2026, 3, 9, 14, 0));
        // DST ends Sunday 2026-11-01: Fri 16:00 EDT (20:00 UTC) -> Mon 10:00 EST.
        assert_eq!(business(utc(2026, 10, 30, 20, 0), "2h", &cal), utc(2026, 11, 2, 15, 0));
        assert!(!cal.is_working_time(utc(2026, 3, 6, 13, 59)));
        assert!(cal.is_working_time(utc(2026, 3, 6, 14, 0)));
    }

    #[test]
    fn sla_span_parses_and_displays_round_trip() {
        for (text, span) in [
            ("30m", SlaSpan::Minutes(30)),
            ("4h", SlaSpan::Hours(4)),
            ("3d", SlaSpan::Days(3)),
        ] {
            assert_eq!(text.parse::<SlaSpan>(), Ok(span));
            assert_eq!(span.to_string(), text);
        }
        assert_eq!(" 4h ".parse::<SlaSpan>(), Ok(SlaSpan::Hours(4)));
    }

    #[test]
    fn sla_span_refuses_bad_text_with_clear_errors() {
        let err = |s: &str| s.parse::<SlaSpan>().unwrap_err();
        assert_eq!(err(""), SlaSpanError::Empty);
        assert_eq!(err("0h"), SlaSpanError::Zero("0h".into()));
        for bad in ["4x", "-3d", "h", "+3d", "1.5h", "4 h", "4H", "d3"] {
            assert_eq!(err(bad), SlaSpanError::NotADuration(bad.into()), "{bad}");
        }
        assert_eq!(err("99999999999h"), SlaSpanError::TooLarge("99999999999h".into()));
        assert_eq!(
            err("4x").to_string(),
            r#""4x" is not a duration; write it like "30m", "4h" or "3d""#
        );
        assert!(err("").to_string().contains("empty"));
    }

    #[test]
    fn describe_uses_plain_words() {
        use ClockKind::{Business, Wall};
        assert_eq!(SlaSpan::Minutes(30).describe(Wall), "30 minutes");
        assert_eq!(SlaSpan::Hours(1).describe(Wall), "1 hour");
        assert_eq!(SlaSpan::Hours(4).describe(Business), "4 business hours");
        assert_eq!(SlaSpan::Days(1).describe(Business), "1 business day");
        assert_eq!(SlaSpan::Days(3).describe(Business), "3 business days");
        assert_eq!(SlaSpan::Days(3).describe(Wall), "3 days");
        assert_eq!(SlaSpan::Minutes(1).describe(Business), "1 business minute");
    }

    #[test]
    fn span_duration_depends_on_clock_and_calendar() {
        let cal = BusinessCalendar::default();
        assert_eq!(cal.working_day_length(), TimeDelta::hours(8));
        let d = |s: SlaSpan, c| span_duration(s, c, &cal);
        assert_eq!(d(SlaSpan::Days(3), ClockKind::Business), TimeDelta::hours(24));
        assert_eq!(d(SlaSpan::Days(3), ClockKind::Wall), TimeDelta::hours(72));
        assert_eq!(d(SlaSpan::Minutes(30), ClockKind::Business), TimeDelta::minutes(30));
        assert_eq!(d(SlaSpan::Days(u32::MAX), ClockKind::Business), TimeDelta::MAX);
    }

    #[test]
    fn calendar_construction_refuses_nonsense() {
        let new = |days: Vec<Weekday>, s, e| BusinessCalendar::new(Tz::UTC, days, s, e, vec![]);
        assert_eq!(
            new(vec![], hm(9, 0), hm(17, 0)).unwrap_err(),
            CalendarError::NoWorkingDays
        );
        let same = new(vec![Mon], hm(9, 0), hm(9, 0)).unwrap_err();
        assert_eq!(
            same,
            CalendarError::EndNotAfterStart {
                start: hm(9, 0),
                end: hm(9, 0)
            }
        );
        assert!(new(vec![Mon], hm(17, 0), hm(9, 0)).is_err());
        assert!(new(vec![Mon, Mon], hm(9, 0), hm(9, 1)).is_ok());
    }

    #[test]
    fn default_calendar_is_weekdays_nine_to_five_utc() {
        let cal = BusinessCalendar::default();
        assert_eq!(cal.tz(), Tz::UTC);
        assert!(cal.is_working_time(utc(2026, 3, 10, 9, 0)));
        assert!(cal.is_working_time(utc(2026, 3, 10, 16, 59)));
        assert!(!cal.is_working_time(utc(2026, 3, 10, 8, 59)));
        assert!(!cal.is_working_time(utc(2026, 3, 10, 17, 0)));
        assert!(!cal.is_working_time(utc(2026, 3, 14, 12, 0)));
    }

    #[test]
    fn a_calendar_of_only_holidays_gives_never_instead_of_looping() {
        let mondays: Vec<NaiveDate> =
            std::iter::successors(Some(date(2026, 3, 16)), |d| d.checked_add_days(chrono::Days::new(7)))
                .take(5_300)
                .collect();
        let cal = BusinessCalendar::new(Tz::UTC, vec![Mon], hm(9, 0), hm(17, 0), mondays).unwrap();
        let start = utc(2026, 3, 14, 0, 0);
        assert_eq!(business(start, "1h", &cal), DateTime::<Utc>::MAX_UTC);
        let later = utc(2100, 1, 1, 0, 0);
        assert_eq!(elapsed(start, later, ClockKind::Business, &cal), TimeDelta::zero());
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let far_east = weekdays_in(chrono_tz::Pacific::Kiritimati);
        let far_west = weekdays_in(chrono_tz::Etc::GMTPlus12);
        let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        for cal in [&far_east, &far_west, &BusinessCalendar::default()] {
            for clock in [ClockKind::Wall, ClockKind::Business] {
                for at in [min, max] {
                    let _ = deadline(at, SlaSpan::Days(u32::MAX), clock, cal);
                    let _ = deadline_after(at, TimeDelta::MAX, clock, cal);
                    let _ = cal.is_working_time(at);
                }
                let _ = elapsed(min, max, clock, cal);
            }
        }
    }

    fn calendars() -> Vec<BusinessCalendar> {
        vec![
            BusinessCalendar::default(),
            every_day_in(chrono_tz::Europe::Berlin, hm(9, 0), hm(17, 0)),
            every_day_in(chrono_tz::Europe::Berlin, hm(2, 30), hm(4, 0)),
            weekdays_in(chrono_tz::America::New_York),
        ]
    }

    // 2020-01-01 .. 2031-01-01, at one-second resolution.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (1_577_836_800i64..1_924_992_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
    }

    proptest! {
        #[test]
        fn elapsed_is_monotone_in_to(
            from in instant(), a in 0i64..20_000_000, b in 0i64..20_000_000, which in 0usize..4,
        ) {
            let cal = &calendars()[which];
            let (near, far) = (from + TimeDelta::seconds(a.min(b)), from + TimeDelta::seconds(a.max(b)));
            for clock in [ClockKind::Wall, ClockKind::Business] {
                prop_assert!(elapsed(from, near, clock, cal) <= elapsed(from, far, clock, cal));
            }
        }

        #[test]
        fn elapsed_until_deadline_is_the_counted_time(
            start in instant(), secs in 0i64..5_000_000, which in 0usize..4,
        ) {
            let cal = &calendars()[which];
            let counted = TimeDelta::seconds(secs);
            for clock in [ClockKind::Wall, ClockKind::Business] {
                let due = deadline_after(start, counted, clock, cal);
                prop_assert_eq!(elapsed(start, due, clock, cal), counted);
                // ...and it is the first such instant.
                if secs > 0 {
                    let just_before = due - TimeDelta::seconds(1);
                    prop_assert!(elapsed(start, just_before, clock, cal) < counted);
                }
            }
        }

        #[test]
        fn deadline_is_not_before_start_and_grows_with_span(
            start in instant(), a in 1u32..500, b in 1u32..500, which in 0usize..4,
        ) {
            let cal = &calendars()[which];
            let (small, big) = (a.min(b), a.max(b));
            for clock in [ClockKind::Wall, ClockKind::Business] {
                for make in [SlaSpan::Minutes, SlaSpan::Hours, SlaSpan::Days] {
                    let near = deadline(start, make(small), clock, cal);
                    prop_assert!(near >= start);
                    prop_assert!(deadline(start, make(big), clock, cal) >= near);
                }
            }
        }
    }

    #[test]
    fn a_pause_over_a_night_does_not_use_up_business_time() {
        let cal = BusinessCalendar::default_utc();
        let at = |d, h| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
        // Due Wednesday 15:00; paused Tuesday 16:00 with 7 business hours left.
        let due = at(25, 15);
        let moved = resumed_deadline(due, at(24, 16), at(25, 10), ClockKind::Business, &cal);
        // Resumed Wednesday 10:00: 7 working hours from then is closing time.
        assert_eq!(moved, at(25, 17));
        // A wall clock shifts by exactly the pause.
        let wall = resumed_deadline(due, at(24, 16), at(25, 10), ClockKind::Wall, &cal);
        assert_eq!(wall, due + TimeDelta::hours(18));
    }

    #[test]
    fn resuming_after_the_deadline_passed_keeps_it_breached_from_the_resume() {
        let cal = BusinessCalendar::default_utc();
        let at = |d, h| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
        assert_eq!(
            resumed_deadline(at(24, 10), at(24, 12), at(25, 12), ClockKind::Business, &cal),
            at(25, 12)
        );
    }
}
