//! Working-day calendars: weekends, public holidays and adjusted working days.
//!
//! One TOML file per year (`config/calendars/<year>.toml`); the official years
//! are built in, files in a directory add or replace years without a rebuild.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

use super::error::LoadError;

const BUILTIN: &[(&str, &str)] = &[(
    "config/calendars/2026.toml",
    include_str!("../../config/calendars/2026.toml"),
)];

/// One year's official arrangement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCalendar {
    pub year: i32,
    pub source: String,
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
}

impl YearCalendar {
    pub fn holidays(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.holidays.iter().copied()
    }

    pub fn workdays(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.workdays.iter().copied()
    }
}

/// Whether a day is worked, and whether a calendar for its year was known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayInfo {
    pub working: bool,
    /// False when no calendar covers the year: only weekends were considered.
    pub known: bool,
}

/// All known years, plus extra days (a scenario's `calendar`) on top.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendars {
    years: BTreeMap<i32, YearCalendar>,
    extra_holidays: BTreeSet<NaiveDate>,
    extra_workdays: BTreeSet<NaiveDate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    year: i32,
    source: String,
    #[serde(default)]
    holiday: Vec<RawHoliday>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    #[allow(dead_code)] // documentation for readers of the file
    name: String,
    from: toml::Spanned<String>,
    to: toml::Spanned<String>,
    #[serde(default)]
    workdays: Vec<toml::Spanned<String>>,
}

impl Calendars {
    /// The calendars built into the binary.
    pub fn builtin() -> Result<Self, LoadError> {
        let mut out = Self::default();
        for (file, text) in BUILTIN {
            out.add(YearCalendar::parse(file, text)?);
        }
        Ok(out)
    }

    /// Built-in calendars, then every `*.toml` in `dir` (a year in a file replaces the built-in one).
    pub fn load(dir: Option<&Path>) -> Result<Self, LoadError> {
        let mut out = Self::builtin()?;
        if let Some(dir) = dir {
            for (file, text) in super::read_toml_dir(dir)? {
                out.add(YearCalendar::parse(&file, &text)?);
            }
        }
        Ok(out)
    }

    /// Adds or replaces a year.
    pub fn add(&mut self, cal: YearCalendar) {
        self.years.insert(cal.year, cal);
    }

    pub fn year(&self, year: i32) -> Option<&YearCalendar> {
        self.years.get(&year)
    }

    /// A copy with extra holidays and working days on top (a scenario's `calendar`).
    pub fn with_extra(
        &self,
        holidays: impl IntoIterator<Item = NaiveDate>,
        workdays: impl IntoIterator<Item = NaiveDate>,
    ) -> Self {
        let mut out = self.clone();
        out.extra_holidays.extend(holidays);
        out.extra_workdays.extend(workdays);
        out
    }

    fn knows(&self, year: i32) -> bool {
        self.years.contains_key(&year)
            || self
                .extra_holidays
                .iter()
                .chain(&self.extra_workdays)
                .any(|d| d.year() == year)
    }

    pub fn day(&self, d: NaiveDate) -> DayInfo {
        let known = self.knows(d.year());
        // Extra days win over the official file, adjusted working days over holidays.
        let working = if self.extra_workdays.contains(&d) {
            true
        } else if self.extra_holidays.contains(&d) {
            false
        } else if let Some(cal) = self.years.get(&d.year()) {
            cal.workdays.contains(&d) || (!cal.holidays.contains(&d) && !is_weekend(d))
        } else {
            !is_weekend(d)
        };
        DayInfo { working, known }
    }

    /// The `n`th working day after `day` (not counting `day` itself), and whether
    /// every day looked at had a known calendar.
    pub fn nth_working_day_after(&self, day: NaiveDate, n: u32) -> (NaiveDate, bool) {
        let mut d = day;
        let mut left = n;
        let mut known = true;
        // A year has fewer than 60 consecutive days off: the bound only guards bad data.
        for _ in 0..(n as usize + 1) * 60 {
            if left == 0 {
                break;
            }
            d = match d.succ_opt() {
                Some(next) => next,
                None => break,
            };
            let info = self.day(d);
            known &= info.known;
            if info.working {
                left -= 1;
            }
        }
        (d, known)
    }
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl YearCalendar {
    /// Parses one year's file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, LoadError> {
        let raw: RawYear = toml::from_str(text).map_err(|e| LoadError::toml(file, text, &e))?;
        let date = |s: &toml::Spanned<String>| -> Result<NaiveDate, LoadError> {
            let d = NaiveDate::parse_from_str(s.get_ref(), "%Y-%m-%d").map_err(|_| {
                LoadError::at(
                    file,
                    text,
                    Some(s.span()),
                    format!("malformed date \"{}\" (want YYYY-MM-DD)", s.get_ref()),
                )
            })?;
            if d.year() != raw.year {
                return Err(LoadError::at(
                    file,
                    text,
                    Some(s.span()),
                    format!("{d} is not in year {}", raw.year),
                ));
            }
            Ok(d)
        };
        let mut holidays = BTreeSet::new();
        let mut workdays = BTreeSet::new();
        for h in &raw.holiday {
            let (from, to) = (date(&h.from)?, date(&h.to)?);
            if to < from {
                return Err(LoadError::at(
                    file,
                    text,
                    Some(h.to.span()),
                    format!("holiday ends ({to}) before it starts ({from})"),
                ));
            }
            holidays.extend(from.iter_days().take_while(|d| *d <= to));
            for w in &h.workdays {
                workdays.insert(date(w)?);
            }
        }
        for h in &raw.holiday {
            for w in &h.workdays {
                if holidays.contains(&date(w)?) {
                    return Err(LoadError::at(
                        file,
                        text,
                        Some(w.span()),
                        format!("{} is both a holiday and a working day", w.get_ref()),
                    ));
                }
            }
        }
        Ok(Self {
            year: raw.year,
            source: raw.source,
            holidays,
            workdays,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn official_2026_holidays_and_adjusted_workdays() {
        let c = Calendars::builtin().unwrap();
        // Spring Festival off, Saturday Feb 14 worked.
        assert!(!c.day(d("2026-02-16")).working);
        assert!(c.day(d("2026-02-14")).working);
        assert!(c.day(d("2026-01-04")).working);
        assert!(!c.day(d("2026-10-07")).working);
        assert!(c.day(d("2026-10-10")).working);
        assert!(!c.day(d("2026-06-19")).working);
        assert!(c.day(d("2026-03-11")).working);
        assert!(!c.day(d("2026-03-14")).working);
        assert!(c.day(d("2026-03-14")).known);
    }

    #[test]
    fn nth_working_day_skips_holidays() {
        let c = Calendars::builtin().unwrap();
        // Ended Friday Feb 13: Sat 14 is worked, 15–23 off, Tue 24 is the second.
        assert_eq!(
            c.nth_working_day_after(d("2026-02-13"), 2),
            (d("2026-02-24"), true)
        );
        assert_eq!(
            c.nth_working_day_after(d("2026-03-10"), 2),
            (d("2026-03-12"), true)
        );
    }

    #[test]
    fn unknown_year_uses_weekends_and_says_so() {
        let c = Calendars::builtin().unwrap();
        let (day, known) = c.nth_working_day_after(d("2030-01-04"), 2);
        assert_eq!(day, d("2030-01-08"));
        assert!(!known);
    }

    #[test]
    fn extra_days_override() {
        let c = Calendars::builtin()
            .unwrap()
            .with_extra([d("2026-03-11")], [d("2026-03-14")]);
        assert!(!c.day(d("2026-03-11")).working);
        assert!(c.day(d("2026-03-14")).working);
    }

    #[test]
    fn bad_file_names_line() {
        let text = "year = 2027\nsource = \"x\"\n[[holiday]]\nname = \"元旦\"\nfrom = \"2027-13-01\"\nto = \"2027-01-01\"\n";
        let e = YearCalendar::parse("2027.toml", text).unwrap_err();
        assert!(e.to_string().starts_with("2027.toml:5:"), "{e}");
    }
}
