//! Candle CSV files (`timestamp,open,high,low,close,volume`), for replaying real price paths
//! through the adapter, the engine and the simulator. `std` only; no floats (numbers go through
//! [`Fixed::parse_decimal`]) and no date library (the calendar arithmetic is below).
//!
//! Timestamps are either `YYYY-MM-DD HH:MM:SS` in UTC (a `T` separator and a trailing `Z` are
//! accepted) or a Unix time as an integer: values below 10^11 are seconds (10^11 s is the year
//! 5138), larger ones milliseconds (10^11 ms is 1973-03-03).

use std::fmt;
use std::path::Path;

use ballast_math::Fixed;

/// The header the files must start with.
pub const HEADER: &str = "timestamp,open,high,low,close,volume";

/// Integer Unix times below this are seconds, at or above it milliseconds.
const SECONDS_LIMIT: u64 = 100_000_000_000;

/// One candle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candle {
    /// Start of the candle, milliseconds since the Unix epoch (UTC).
    pub timestamp_ms: u64,
    /// First trade price.
    pub open: Fixed,
    /// Highest trade price.
    pub high: Fixed,
    /// Lowest trade price.
    pub low: Fixed,
    /// Last trade price.
    pub close: Fixed,
    /// Traded base volume.
    pub volume: Fixed,
}

/// What was wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandleErrorKind {
    /// The file could not be read (the I/O error's message).
    Io(String),
    /// The first line is not [`HEADER`].
    Header,
    /// The line does not have six comma-separated fields.
    FieldCount(usize),
    /// The timestamp is neither a valid UTC date-time nor a Unix time.
    Timestamp,
    /// The named column is not a decimal number.
    Number(&'static str),
    /// The timestamp is not after the previous line's.
    NotIncreasing,
}

/// A parse failure and the 1-based line it happened on (0 for I/O errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandleError {
    /// 1-based line number in the file (the header is line 1).
    pub line: usize,
    /// What was wrong.
    pub kind: CandleErrorKind,
}

impl fmt::Display for CandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CandleErrorKind::Io(message) => write!(f, "cannot read candles: {message}"),
            CandleErrorKind::Header => write!(f, "line {}: expected header `{HEADER}`", self.line),
            CandleErrorKind::FieldCount(n) => {
                write!(f, "line {}: expected 6 fields, found {n}", self.line)
            }
            CandleErrorKind::Timestamp => write!(f, "line {}: bad timestamp", self.line),
            CandleErrorKind::Number(column) => {
                write!(f, "line {}: column `{column}` is not a number", self.line)
            }
            CandleErrorKind::NotIncreasing => {
                write!(
                    f,
                    "line {}: timestamp not after the previous one",
                    self.line
                )
            }
        }
    }
}

impl std::error::Error for CandleError {}

/// Reads and parses a candle file.
pub fn read_csv(path: impl AsRef<Path>) -> Result<Vec<Candle>, CandleError> {
    let text = std::fs::read_to_string(path).map_err(|error| CandleError {
        line: 0,
        kind: CandleErrorKind::Io(error.to_string()),
    })?;
    parse_csv(&text)
}

/// Parses candle CSV text: the header, then one candle per line with strictly increasing
/// timestamps. Blank lines are skipped.
pub fn parse_csv(text: &str) -> Result<Vec<Candle>, CandleError> {
    let mut candles: Vec<Candle> = Vec::new();
    let mut header_seen = false;
    for (index, raw) in text.lines().enumerate() {
        let line = index.saturating_add(1);
        let content = raw.trim();
        if !header_seen {
            if content != HEADER {
                return Err(CandleError {
                    line,
                    kind: CandleErrorKind::Header,
                });
            }
            header_seen = true;
            continue;
        }
        if content.is_empty() {
            continue;
        }
        let candle = parse_line(content).map_err(|kind| CandleError { line, kind })?;
        if let Some(previous) = candles.last() {
            if candle.timestamp_ms <= previous.timestamp_ms {
                return Err(CandleError {
                    line,
                    kind: CandleErrorKind::NotIncreasing,
                });
            }
        }
        candles.push(candle);
    }
    if !header_seen {
        return Err(CandleError {
            line: 1,
            kind: CandleErrorKind::Header,
        });
    }
    Ok(candles)
}

fn parse_line(content: &str) -> Result<Candle, CandleErrorKind> {
    let fields: Vec<&str> = content.split(',').map(str::trim).collect();
    let [timestamp, open, high, low, close, volume] = fields.as_slice() else {
        return Err(CandleErrorKind::FieldCount(fields.len()));
    };
    let number = |text: &str, column: &'static str| {
        Fixed::parse_decimal(text).map_err(|_| CandleErrorKind::Number(column))
    };
    Ok(Candle {
        timestamp_ms: parse_timestamp_ms(timestamp).ok_or(CandleErrorKind::Timestamp)?,
        open: number(open, "open")?,
        high: number(high, "high")?,
        low: number(low, "low")?,
        close: number(close, "close")?,
        volume: number(volume, "volume")?,
    })
}

/// Milliseconds since the Unix epoch of a UTC `YYYY-MM-DD HH:MM:SS` date-time or of an integer
/// Unix time in seconds or milliseconds (see the module docs). `None` for anything else,
/// including dates before 1970 or after 9999.
pub fn parse_timestamp_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let value: u64 = text.parse().ok()?;
        return if value < SECONDS_LIMIT {
            value.checked_mul(1000)
        } else {
            Some(value)
        };
    }
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = text.split_once([' ', 'T'])?;
    let mut date_parts = date.split('-');
    let year: i64 = fixed_digits(date_parts.next()?, 4)?;
    let month: u32 = fixed_digits(date_parts.next()?, 2)?;
    let day: u32 = fixed_digits(date_parts.next()?, 2)?;
    let mut time_parts = time.split(':');
    let hour: u64 = fixed_digits(time_parts.next()?, 2)?;
    let minute: u64 = fixed_digits(time_parts.next()?, 2)?;
    let second: u64 = fixed_digits(time_parts.next()?, 2)?;
    if date_parts.next().is_some() || time_parts.next().is_some() {
        return None;
    }
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)?
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)?).ok()?;
    let seconds = days
        .checked_mul(86_400)?
        .checked_add(hour.checked_mul(3_600)?)?
        .checked_add(minute.checked_mul(60)?)?
        .checked_add(second)?;
    seconds.checked_mul(1000)
}

/// Parses exactly `width` ASCII digits.
fn fixed_digits<T: std::str::FromStr>(text: &str, width: usize) -> Option<T> {
    if text.len() != width || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn is_leap_year(year: i64) -> bool {
    let divisible = |n: i64| year.checked_rem(n) == Some(0);
    divisible(4) && (!divisible(100) || divisible(400))
}

fn days_in_month(year: i64, month: u32) -> Option<u32> {
    Some(match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => return None,
    })
}

/// The inverse of [`days_from_civil`]: (year, month, day) of a day count since 1970-01-01
/// (Howard Hinnant's civil_from_days), for printing replay times.
#[allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `YYYY-MM-DD HH:MM` (UTC) of a millisecond timestamp.
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_wrap)]
pub fn format_timestamp_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        (secs % 86_400) / 3600,
        (secs % 3600) / 60
    )
}

/// Days from 1970-01-01 to the proleptic Gregorian date `year-month-day` (negative before),
/// by Howard Hinnant's `days_from_civil`: shift the year to start in March so the leap day is
/// last, then count whole 400-year eras (146,097 days each), years of the era, and days of the
/// year from a closed form for the month lengths 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31, 28/29.
/// `None` for a month or day out of range or on overflow.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let month = i64::from(month);
    let day = i64::from(day);
    let year = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = year.checked_div_euclid(400)?;
    let year_of_era = year.checked_sub(era.checked_mul(400)?)?; // [0, 399]
    let shifted_month = if month > 2 {
        month.checked_sub(3)?
    } else {
        month.checked_add(9)?
    }; // March = 0
    let day_of_year = shifted_month
        .checked_mul(153)?
        .checked_add(2)?
        .checked_div(5)?
        .checked_add(day)?
        .checked_sub(1)?; // [0, 365]
    let day_of_era = year_of_era
        .checked_mul(365)?
        .checked_add(year_of_era.checked_div(4)?)?
        .checked_sub(year_of_era.checked_div(100)?)?
        .checked_add(day_of_year)?; // [0, 146096]
    era.checked_mul(146_097)?
        .checked_add(day_of_era)?
        .checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_to_unix_time() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(1969, 12, 31), Some(-1));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(days_from_civil(2000, 2, 29), Some(11_016));
        assert_eq!(days_from_civil(2022, 1, 1), Some(18_993));
        assert_eq!(
            parse_timestamp_ms("2022-01-01 00:00:00"),
            Some(1_640_995_200_000)
        );
        assert_eq!(
            parse_timestamp_ms("2022-11-08 16:00:00"),
            Some(1_667_923_200_000)
        );
        assert_eq!(
            parse_timestamp_ms("2024-02-29T23:59:59Z"),
            Some(1_709_251_199_000)
        );
        // Every day from 1970 to 2100 is exactly one day after the previous one.
        let mut expected = 0i64;
        for year in 1970..2100 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month).unwrap() {
                    assert_eq!(days_from_civil(year, month, day), Some(expected));
                    expected += 1;
                }
            }
        }
    }

    #[test]
    fn unix_times_in_seconds_or_milliseconds() {
        assert_eq!(parse_timestamp_ms("1640995200"), Some(1_640_995_200_000));
        assert_eq!(parse_timestamp_ms("1640995200000"), Some(1_640_995_200_000));
        assert_eq!(parse_timestamp_ms("0"), Some(0));
    }

    #[test]
    fn bad_timestamps_are_rejected() {
        for text in [
            "",
            "2022-02-29 00:00:00",
            "2022-13-01 00:00:00",
            "2022-01-01 24:00:00",
            "2022-01-01 00:60:00",
            "1969-12-31 23:59:59",
            "2022-1-01 00:00:00",
            "2022-01-01",
            "2022-01-01 00:00:00:00",
            "-5",
            "12.5",
        ] {
            assert_eq!(parse_timestamp_ms(text), None, "{text:?}");
        }
    }

    #[test]
    fn parses_a_file_and_names_the_bad_line() {
        let good = "timestamp,open,high,low,close,volume\n\
                    2022-01-01 00:00:00,46216.93,46731.39,46208.37,46656.13,1503.33095\n\
                    2022-01-01 01:00:00,46656.14,46949.99,46574.06,46778.14,943.81539\n\n";
        let candles = parse_csv(good).unwrap();
        assert_eq!(candles.len(), 2);
        assert_eq!(candles[1].timestamp_ms, 1_640_998_800_000);
        assert_eq!(candles[0].close, Fixed::parse_decimal("46656.13").unwrap());

        let error = |text: &str| parse_csv(text).unwrap_err();
        assert_eq!(
            error("time,open\n"),
            CandleError {
                line: 1,
                kind: CandleErrorKind::Header
            }
        );
        assert_eq!(error("").kind, CandleErrorKind::Header);
        let bad_number = format!("{HEADER}\n1,1,1,1,1,1\n2,1,1,x,1,1\n");
        assert_eq!(
            error(&bad_number),
            CandleError {
                line: 3,
                kind: CandleErrorKind::Number("low")
            }
        );
        let short = format!("{HEADER}\n1,1,1,1,1\n");
        assert_eq!(error(&short).kind, CandleErrorKind::FieldCount(5));
        let bad_time = format!("{HEADER}\n2022-02-30 00:00:00,1,1,1,1,1\n");
        assert_eq!(error(&bad_time).kind, CandleErrorKind::Timestamp);
        let backwards = format!("{HEADER}\n2,1,1,1,1,1\n1,1,1,1,1,1\n");
        assert_eq!(
            error(&backwards),
            CandleError {
                line: 3,
                kind: CandleErrorKind::NotIncreasing
            }
        );
        assert!(error(&bad_number).to_string().contains("line 3"));
        assert!(matches!(
            read_csv("/nonexistent/candles.csv").unwrap_err().kind,
            CandleErrorKind::Io(_)
        ));
    }
}
