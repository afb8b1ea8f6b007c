//! CertLogic's date-times (spec, "Dates and date-times"): an instant with millisecond
//! precision, made only by `plusTime` and `dccDateOfBirth`, and compared by the `after`,
//! `before`, `not-after` and `not-before` operations.
//!
//! This module owns the string formats the spec allows, the "last date consistent with the
//! data" reading of partial dates, and the calendar arithmetic of `plusTime`, which the spec
//! defines by ECMAScript's `Date.prototype.setUTC…` methods: a day of month that does not
//! exist rolls over into the next month (2020-01-31 plus one month is 2020-03-02), and no
//! time zone, daylight saving time or leap second plays a part.
//!
//! It does not own how an operand becomes a string, nor the errors: it answers `None` and the
//! evaluator says which operation failed.

use std::fmt;

const MS_PER_SECOND: i128 = 1_000;
const MS_PER_MINUTE: i128 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: i128 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i128 = 24 * MS_PER_HOUR;

/// The largest distance from the epoch an ECMAScript time value may have (ECMA-262, "Time
/// Values and Time Range"): 100,000,000 days. The `Date` methods that define `plusTime` give
/// an invalid date beyond it, so a result out there is an error here.
const MAX_MILLIS: i128 = 100_000_000 * MS_PER_DAY;

/// A CertLogic date-time: milliseconds since 1970-01-01T00:00:00.000Z, within ±100,000,000
/// days of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct DateTime {
    millis: i64,
}

/// The time units `plusTime` accepts (spec, "Offset date-time (`plusTime`)").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    Year,
    Month,
    Day,
    Hour,
}

impl TimeUnit {
    /// The units' names, in the order the spec lists them.
    pub(crate) const NAMES: [&'static str; 4] = ["year", "month", "day", "hour"];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "year" => Some(TimeUnit::Year),
            "month" => Some(TimeUnit::Month),
            "day" => Some(TimeUnit::Day),
            "hour" => Some(TimeUnit::Hour),
            _ => None,
        }
    }
}

impl DateTime {
    fn from_millis(millis: i128) -> Option<Self> {
        if millis.abs() > MAX_MILLIS {
            return None;
        }
        i64::try_from(millis).ok().map(|millis| DateTime { millis })
    }

    /// Parses a date or date-time in one of the formats `plusTime` allows. A partial date
    /// (`YYYY`, `YYYY-MM`) means its last day, as `dccDateOfBirth` reads it; a missing time is
    /// midnight; a missing offset is `Z`; decimals of a second beyond the third are dropped,
    /// which rounds down to the millisecond.
    ///
    /// The spec leaves strings outside these formats, and impossible dates such as
    /// `2021-09-99`, undefined; here they are `None`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut scanner = Scanner::new(text);
        let date = scanner.date()?;
        if scanner.at_end() {
            return Self::at_midnight(date);
        }
        let Date::Full { .. } = date else {
            return None;
        };
        scanner.byte(b'T')?;
        let hour = scanner.number(2)?;
        scanner.byte(b':')?;
        let minute = scanner.number(2)?;
        scanner.byte(b':')?;
        let second = scanner.number(2)?;
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let millis = if scanner.byte(b'.').is_some() {
            scanner.fraction_millis()?
        } else {
            0
        };
        let offset_minutes = scanner.offset()?;
        let (year, month, day) = date.last_day();
        let local = days_from_civil(year, month, day) * MS_PER_DAY
            + hour * MS_PER_HOUR
            + minute * MS_PER_MINUTE
            + second * MS_PER_SECOND
            + millis;
        Self::from_millis(local - offset_minutes * MS_PER_MINUTE)
    }

    /// The `dccDateOfBirth` operation (spec, "DCC Date of birth"): `YYYY`, `YYYY-MM` or
    /// `YYYY-MM-DD`, read as midnight UTC of the last day consistent with it.
    pub(crate) fn of_birth_date(text: &str) -> Option<Self> {
        let mut scanner = Scanner::new(text);
        let date = scanner.date()?;
        if !scanner.at_end() {
            return None;
        }
        Self::at_midnight(date)
    }

    fn at_midnight(date: Date) -> Option<Self> {
        let (year, month, day) = date.last_day();
        Self::from_millis(days_from_civil(year, month, day) * MS_PER_DAY)
    }

    /// Adds `amount` units the way `dateTime.setUTC<unit>(dateTime.getUTC<unit>() + amount)`
    /// does in ECMAScript (spec, "Leap days"): the other calendar fields stay as they are and
    /// an overflowing day of month carries into the next month. `None` when the result leaves
    /// the range of date-times.
    pub(crate) fn plus(self, amount: i64, unit: TimeUnit) -> Option<Self> {
        let millis = i128::from(self.millis);
        let amount = i128::from(amount);
        let days = millis.div_euclid(MS_PER_DAY);
        let time_of_day = millis.rem_euclid(MS_PER_DAY);
        let shifted = match unit {
            TimeUnit::Hour => millis + amount * MS_PER_HOUR,
            TimeUnit::Day => (days + amount) * MS_PER_DAY + time_of_day,
            TimeUnit::Month | TimeUnit::Year => {
                let months = if unit == TimeUnit::Month {
                    amount
                } else {
                    amount * 12
                };
                let (year, month, day) = civil_from_days(days);
                let target = year * 12 + (month - 1) + months;
                let first_of_month =
                    days_from_civil(target.div_euclid(12), target.rem_euclid(12) + 1, 1);
                (first_of_month + day - 1) * MS_PER_DAY + time_of_day
            }
        };
        Self::from_millis(shifted)
    }
}

/// ECMAScript's `Date.prototype.toISOString` form, `YYYY-MM-DDThh:mm:ss.sssZ`, with a signed
/// six-digit year outside 0000–9999; this is how a date-time leaves the evaluator as JSON.
impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = i128::from(self.millis);
        let (year, month, day) = civil_from_days(millis.div_euclid(MS_PER_DAY));
        let time = millis.rem_euclid(MS_PER_DAY);
        if (0..=9999).contains(&year) {
            write!(f, "{year:04}")?;
        } else {
            let sign = if year < 0 { '-' } else { '+' };
            write!(f, "{sign}{:06}", year.abs())?;
        }
        write!(
            f,
            "-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            time / MS_PER_HOUR,
            time % MS_PER_HOUR / MS_PER_MINUTE,
            time % MS_PER_MINUTE / MS_PER_SECOND,
            time % MS_PER_SECOND,
        )
    }
}

/// The date part of a string: as precise as it was written.
#[derive(Debug, Clone, Copy)]
enum Date {
    Year(i128),
    Month(i128, i128),
    Full { year: i128, month: i128, day: i128 },
}

impl Date {
    /// The last day consistent with the date (spec, "DCC Date of birth": `YYYY` is
    /// `YYYY-12-31`, `YYYY-MM` the month's last day).
    fn last_day(self) -> (i128, i128, i128) {
        match self {
            Date::Year(year) => (year, 12, 31),
            Date::Month(year, month) => (year, month, days_in_month(year, month)),
            Date::Full { year, month, day } => (year, month, day),
        }
    }
}

/// Reads the allowed formats from left to right; every method answers `None` on anything
/// else, so a malformed string never gets half-read.
struct Scanner<'t> {
    bytes: &'t [u8],
    position: usize,
}

impl<'t> Scanner<'t> {
    fn new(text: &'t str) -> Self {
        Scanner {
            bytes: text.as_bytes(),
            position: 0,
        }
    }

    fn at_end(&self) -> bool {
        self.position == self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn byte(&mut self, expected: u8) -> Option<()> {
        (self.peek() == Some(expected)).then(|| self.position += 1)
    }

    fn digit(&mut self) -> Option<i128> {
        let byte = self.peek().filter(u8::is_ascii_digit)?;
        self.position += 1;
        Some(i128::from(byte - b'0'))
    }

    /// Exactly `count` decimal digits.
    fn number(&mut self, count: usize) -> Option<i128> {
        (0..count).try_fold(0, |value, _| Some(value * 10 + self.digit()?))
    }

    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, with the month and day checked against the calendar.
    fn date(&mut self) -> Option<Date> {
        let year = self.number(4)?;
        if self.byte(b'-').is_none() {
            return Some(Date::Year(year));
        }
        let month = self.number(2)?;
        if !(1..=12).contains(&month) {
            return None;
        }
        if self.byte(b'-').is_none() {
            return Some(Date::Month(year, month));
        }
        let day = self.number(2)?;
        if !(1..=days_in_month(year, month)).contains(&day) {
            return None;
        }
        Some(Date::Full { year, month, day })
    }

    /// One or more digits after the decimal point, as whole milliseconds: the first three
    /// digits count and the rest are ignored (spec: "effectively rounding _down_").
    fn fraction_millis(&mut self) -> Option<i128> {
        let mut millis = 0;
        let mut digits = 0;
        while let Some(digit) = self.digit() {
            if digits < 3 {
                millis = millis * 10 + digit;
            }
            digits += 1;
        }
        if digits == 0 {
            return None;
        }
        for _ in digits..3 {
            millis *= 10;
        }
        Some(millis)
    }

    /// The rest of the string as a time zone offset in minutes: nothing or `Z` is UTC, else a
    /// sign followed by `h`, `hh`, `hmm`, `hhmm`, `h:mm` or `hh:mm`.
    fn offset(&mut self) -> Option<i128> {
        if self.at_end() {
            return Some(0);
        }
        if self.byte(b'Z').is_some() {
            return self.at_end().then_some(0);
        }
        let sign = match self.peek()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        self.position += 1;
        let rest = self.bytes.get(self.position..)?;
        let (hours, minutes): (&[u8], &[u8]) = match rest.iter().position(|&b| b == b':') {
            Some(colon) => (&rest[..colon], rest.get(colon + 1..)?),
            None if rest.len() <= 2 => (rest, b"00"),
            None => rest.split_at(rest.len() - 2),
        };
        if !(1..=2).contains(&hours.len()) || minutes.len() != 2 {
            return None;
        }
        let hours = digits_value(hours)?;
        let minutes = digits_value(minutes)?;
        if hours > 23 || minutes > 59 {
            return None;
        }
        self.position = self.bytes.len();
        Some(sign * (hours * 60 + minutes))
    }
}

fn digits_value(digits: &[u8]) -> Option<i128> {
    digits.iter().try_fold(0, |value, &byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + i128::from(byte - b'0'))
    })
}

fn is_leap_year(year: i128) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i128, month: i128) -> i128 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar, for any year (Howard
/// Hinnant's `days_from_civil`, counting eras of 400 years from 0000-03-01).
fn days_from_civil(year: i128, month: i128, day: i128) -> i128 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month 1–12, day 1–31).
fn civil_from_days(days: i128) -> (i128, i128, i128) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn iso(text: &str) -> String {
        DateTime::parse(text)
            .unwrap_or_else(|| panic!("{text} parses"))
            .to_string()
    }

    fn plus(text: &str, amount: i64, unit: TimeUnit) -> String {
        DateTime::parse(text)
            .unwrap()
            .plus(amount, unit)
            .unwrap()
            .to_string()
    }

    #[test]
    fn every_allowed_format_parses() {
        let cases = [
            ("2021", "2021-12-31T00:00:00.000Z"),
            ("2021-02", "2021-02-28T00:00:00.000Z"),
            ("2020-02", "2020-02-29T00:00:00.000Z"),
            ("2021-06-01", "2021-06-01T00:00:00.000Z"),
            ("2021-06-01T12:34:56", "2021-06-01T12:34:56.000Z"),
            ("2021-06-01T12:34:56Z", "2021-06-01T12:34:56.000Z"),
            ("2021-06-01T12:34:56+2", "2021-06-01T10:34:56.000Z"),
            ("2021-06-01T12:34:56-02", "2021-06-01T14:34:56.000Z"),
            ("2021-06-01T12:34:56+230", "2021-06-01T10:04:56.000Z"),
            ("2021-06-01T12:34:56+0230", "2021-06-01T10:04:56.000Z"),
            ("2021-06-01T12:34:56+2:30", "2021-06-01T10:04:56.000Z"),
            ("2021-06-01T12:34:56-02:30", "2021-06-01T15:04:56.000Z"),
            ("2021-06-01T12:34:56.7", "2021-06-01T12:34:56.700Z"),
            ("2021-06-01T12:34:56.78Z", "2021-06-01T12:34:56.780Z"),
            ("2021-06-01T12:34:56.789+1", "2021-06-01T11:34:56.789Z"),
            ("2021-06-01T12:34:56.7899999+01", "2021-06-01T11:34:56.789Z"),
            ("2021-06-01T12:34:56.1+100", "2021-06-01T11:34:56.100Z"),
            ("2021-06-01T12:34:56.1+0100", "2021-06-01T11:34:56.100Z"),
            ("2021-06-01T12:34:56.1+1:00", "2021-06-01T11:34:56.100Z"),
            ("2021-06-01T12:34:56.1+01:00", "2021-06-01T11:34:56.100Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(iso(text), expected, "{text}");
        }
    }

    #[test]
    fn offsets_can_cross_midnight_and_the_year() {
        assert_eq!(iso("2021-01-01T00:30:00+01:00"), "2020-12-31T23:30:00.000Z");
        assert_eq!(iso("2020-12-31T23:30:00-1"), "2021-01-01T00:30:00.000Z");
    }

    #[test]
    fn strings_outside_the_formats_are_refused() {
        for text in [
            "",
            "21",
            "2021-6-01",
            "2021-06-1",
            "2021-13",
            "2021-00-01",
            "2021-09-99",
            "2021-02-29",
            "2021-06-01T",
            "2021-06-01T12:34",
            "2021-06-01 12:34:56",
            "2021-06-01t12:34:56",
            "2021-06-01T24:00:00",
            "2021-06-01T12:60:00",
            "2021-06-01T12:34:60",
            "2021-06-01T12:34:56.",
            "2021-06-01T12:34:56.Z",
            "2021-06-01T12:34:56z",
            "2021-06-01T12:34:56Z ",
            "2021-06-01T12:34:56+",
            "2021-06-01T12:34:56+24",
            "2021-06-01T12:34:56+01:60",
            "2021-06-01T12:34:56+01:0",
            "2021-06-01T12:34:56+012:00",
            "2021-06-01T12:34:56+12345",
            "2021-06-01T12:34:56+1:",
            "2021-06-01T12:34:56+:30",
            "2021-06-01T12:34:56+a",
            "2021-06-01Z",
            "2021-06T12:00:00",
            "２０２１",
        ] {
            assert_eq!(DateTime::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn birth_dates_take_the_last_consistent_day() {
        let dob = |text| DateTime::of_birth_date(text).map(|d| d.to_string());
        assert_eq!(dob("2004").as_deref(), Some("2004-12-31T00:00:00.000Z"));
        assert_eq!(dob("2004-02").as_deref(), Some("2004-02-29T00:00:00.000Z"));
        assert_eq!(dob("1900-02").as_deref(), Some("1900-02-28T00:00:00.000Z"));
        assert_eq!(dob("2000-02").as_deref(), Some("2000-02-29T00:00:00.000Z"));
        assert_eq!(dob("2004-11").as_deref(), Some("2004-11-30T00:00:00.000Z"));
        assert_eq!(
            dob("2004-06-15").as_deref(),
            Some("2004-06-15T00:00:00.000Z")
        );
        assert_eq!(dob("2004-06-15T00:00:00"), None);
        assert_eq!(dob(""), None);
        assert_eq!(dob("2004-6"), None);
    }

    /// The table in the spec's "Leap days" section.
    #[test]
    fn leap_days_follow_the_spec_table() {
        assert_eq!(
            plus("2020-02-29", 1, TimeUnit::Day),
            "2020-03-01T00:00:00.000Z"
        );
        assert_eq!(
            plus("2020-02-29", 1, TimeUnit::Month),
            "2020-03-29T00:00:00.000Z"
        );
        assert_eq!(
            plus("2020-02-29", 1, TimeUnit::Year),
            "2021-03-01T00:00:00.000Z"
        );
        assert_eq!(
            plus("2020-02-29", 4, TimeUnit::Year),
            "2024-02-29T00:00:00.000Z"
        );
    }

    /// ECMAScript's `setUTCMonth` keeps the day of month and lets it overflow.
    #[test]
    fn month_end_overflows_into_the_next_month() {
        assert_eq!(
            plus("2021-01-31", 1, TimeUnit::Month),
            "2021-03-03T00:00:00.000Z"
        );
        assert_eq!(
            plus("2020-01-31", 1, TimeUnit::Month),
            "2020-03-02T00:00:00.000Z"
        );
        assert_eq!(
            plus("2021-03-31", 1, TimeUnit::Month),
            "2021-05-01T00:00:00.000Z"
        );
        assert_eq!(
            plus("2021-03-31", -1, TimeUnit::Month),
            "2021-03-03T00:00:00.000Z"
        );
        assert_eq!(
            plus("2021-12-31", 2, TimeUnit::Month),
            "2022-03-03T00:00:00.000Z"
        );
        assert_eq!(
            plus("2021-05-15T10:20:30.400Z", -17, TimeUnit::Month),
            "2019-12-15T10:20:30.400Z"
        );
        assert_eq!(
            plus("2021-05-15", 120, TimeUnit::Month),
            "2031-05-15T00:00:00.000Z"
        );
    }

    #[test]
    fn days_and_hours_ignore_the_calendar_fields() {
        assert_eq!(
            plus("2021-06-01T00:00:00+00:00", 40, TimeUnit::Hour),
            "2021-06-02T16:00:00.000Z"
        );
        assert_eq!(
            plus("2021-03-27T12:00:00", 2, TimeUnit::Day),
            "2021-03-29T12:00:00.000Z"
        );
        assert_eq!(
            plus("2021-01-01", -1, TimeUnit::Hour),
            "2020-12-31T23:00:00.000Z"
        );
        assert_eq!(
            plus("2021-06-23T00:00:00Z", -180, TimeUnit::Day),
            "2020-12-25T00:00:00.000Z"
        );
        assert_eq!(
            plus("2021-06-01", 0, TimeUnit::Year),
            "2021-06-01T00:00:00.000Z"
        );
    }

    #[test]
    fn results_outside_the_ecmascript_range_are_refused() {
        let start = DateTime::parse("2021-06-01").unwrap();
        assert_eq!(start.plus(i64::MAX, TimeUnit::Year), None);
        assert_eq!(start.plus(i64::MIN, TimeUnit::Month), None);
        assert_eq!(start.plus(i64::MIN, TimeUnit::Day), None);
        assert_eq!(start.plus(i64::MAX, TimeUnit::Hour), None);
        assert_eq!(start.plus(100_000_000, TimeUnit::Day), None);
        assert!(start.plus(200_000, TimeUnit::Year).is_some());
    }

    #[test]
    fn years_outside_four_digits_print_as_ecmascript_does() {
        let start = DateTime::parse("2021-06-01").unwrap();
        assert_eq!(
            start.plus(10_000, TimeUnit::Year).unwrap().to_string(),
            "+012021-06-01T00:00:00.000Z"
        );
        assert_eq!(
            start.plus(-2022, TimeUnit::Year).unwrap().to_string(),
            "-000001-06-01T00:00:00.000Z"
        );
        assert_eq!(iso("0000-01-01"), "0000-01-01T00:00:00.000Z");
    }

    #[test]
    fn the_calendar_round_trips() {
        for days in (-800_000..800_000).step_by(97) {
            let (year, month, day) = civil_from_days(days);
            assert!((1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day));
            assert_eq!(days_from_civil(year, month, day), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn comparison_is_by_instant() {
        let a = DateTime::parse("2021-06-01T12:00:00+02:00").unwrap();
        let b = DateTime::parse("2021-06-01T10:00:00Z").unwrap();
        assert_eq!(a, b);
        assert!(DateTime::parse("2021-06-01T10:00:00.001Z").unwrap() > b);
    }
}
