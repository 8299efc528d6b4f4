//! Holiday overrides: data that beats the computation, so a law change (or a
//! moved holiday, as in 2020-2021) can be loaded without a new release.

use std::collections::BTreeMap;

use crate::csv::{parse_syukujitsu_csv, CsvError};
use crate::date::Date;
use crate::holidays::{holidays_in_year, national_holiday};

/// Per-date overrides of the computed holiday calendar.
///
/// Each entry either names the holiday on a date (adding it, or renaming a
/// computed one) or declares that the date is *not* a holiday (removing a
/// computed one). In JSON it is a list of `{"date": "YYYY-MM-DD", "name":
/// "..."}` objects, `"name": null` meaning "not a holiday":
///
/// ```json
/// [ {"date": "2028-07-17", "name": null}, {"date": "2028-07-21", "name": "海の日"} ]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<OverrideEntry>", into = "Vec<OverrideEntry>")]
pub struct HolidayOverrides {
    entries: BTreeMap<Date, Option<String>>,
}

/// One override as stored in JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideEntry {
    /// The date overridden.
    pub date: Date,
    /// The holiday name, or `None` for "not a holiday".
    pub name: Option<String>,
}

/// Why an override list was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OverrideError {
    /// The same date appears twice, so which entry wins would be ambiguous.
    #[error("holiday override for {0} listed twice")]
    Duplicate(Date),
    /// A holiday name is empty or blank.
    #[error("holiday override for {0} has an empty name (use null for \"not a holiday\")")]
    EmptyName(Date),
}

impl TryFrom<Vec<OverrideEntry>> for HolidayOverrides {
    type Error = OverrideError;

    fn try_from(list: Vec<OverrideEntry>) -> Result<Self, OverrideError> {
        let mut entries = BTreeMap::new();
        for e in list {
            if e.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                return Err(OverrideError::EmptyName(e.date));
            }
            if entries.insert(e.date, e.name).is_some() {
                return Err(OverrideError::Duplicate(e.date));
            }
        }
        Ok(HolidayOverrides { entries })
    }
}

impl From<HolidayOverrides> for Vec<OverrideEntry> {
    fn from(o: HolidayOverrides) -> Self {
        o.entries
            .into_iter()
            .map(|(date, name)| OverrideEntry { date, name })
            .collect()
    }
}

impl HolidayOverrides {
    /// No overrides: the computation alone.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares `date` a holiday called `name` (adds or renames).
    pub fn set_holiday(&mut self, date: Date, name: impl Into<String>) {
        self.entries.insert(date, Some(name.into()));
    }

    /// Declares that `date` is not a holiday, whatever the computation says.
    pub fn set_not_holiday(&mut self, date: Date) {
        self.entries.insert(date, None);
    }

    /// Loads an official list as authoritative for the span it covers: from
    /// its first to its last date, exactly the listed days are holidays (with
    /// the listed names); outside that span the computation still applies.
    /// Earlier overrides inside the span are replaced.
    pub fn import_official(&mut self, list: &[(Date, String)]) {
        let (Some(first), Some(last)) = (
            list.iter().map(|e| e.0).min(),
            list.iter().map(|e| e.0).max(),
        ) else {
            return;
        };
        self.entries.retain(|d, _| *d < first || *d > last);
        for year in first.year()..=last.year() {
            for (d, _) in holidays_in_year(year) {
                if (first..=last).contains(&d) {
                    self.entries.insert(d, None);
                }
            }
        }
        for (d, name) in list {
            self.entries.insert(*d, Some(name.clone()));
        }
    }

    /// Parses a Cabinet Office `syukujitsu.csv` and imports it with
    /// [`HolidayOverrides::import_official`].
    pub fn from_syukujitsu_csv(bytes: &[u8]) -> Result<Self, CsvError> {
        let mut o = Self::new();
        o.import_official(&parse_syukujitsu_csv(bytes)?);
        Ok(o)
    }

    /// The holiday name on `date`: the override if there is one, else the
    /// computed national holiday.
    pub fn holiday(&self, date: Date) -> Option<&str> {
        match self.entries.get(&date) {
            Some(over) => over.as_deref(),
            None => national_holiday(date),
        }
    }

    /// All holidays of `year` after applying the overrides, in date order.
    pub fn holidays_in_year(&self, year: i32) -> Vec<(Date, String)> {
        let mut days: BTreeMap<Date, String> = holidays_in_year(year)
            .into_iter()
            .map(|(d, n)| (d, n.to_owned()))
            .collect();
        for (d, name) in self.entries.iter().filter(|(d, _)| d.year() == year) {
            match name {
                Some(n) => days.insert(*d, n.clone()),
                None => days.remove(d),
            };
        }
        days.into_iter().collect()
    }

    /// The raw override entries in date order (`None` = not a holiday).
    pub fn entries(&self) -> impl Iterator<Item = (Date, Option<&str>)> {
        self.entries.iter().map(|(d, n)| (*d, n.as_deref()))
    }

    /// Number of override entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no overrides.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u8, dd: u8) -> Date {
        Date::new(y, m, dd).unwrap()
    }

    #[test]
    fn overrides_beat_computation() {
        let mut o = HolidayOverrides::new();
        assert_eq!(o.holiday(d(2028, 7, 17)), Some("海の日"));
        o.set_not_holiday(d(2028, 7, 17));
        o.set_holiday(d(2028, 7, 21), "海の日");
        assert_eq!(o.holiday(d(2028, 7, 17)), None);
        assert_eq!(o.holiday(d(2028, 7, 21)), Some("海の日"));
        let year = o.holidays_in_year(2028);
        assert!(year.contains(&(d(2028, 7, 21), "海の日".to_owned())));
        assert!(!year.iter().any(|e| e.0 == d(2028, 7, 17)));
    }

    #[test]
    fn official_import_is_authoritative_only_in_its_span() {
        let mut o = HolidayOverrides::new();
        // A hypothetical list moving 2030's 海の日 from 7/15 to 7/19.
        o.import_official(&[
            (d(2030, 7, 1), "架空の日".to_owned()),
            (d(2030, 7, 19), "海の日".to_owned()),
            (d(2030, 8, 12), "休日".to_owned()),
        ]);
        assert_eq!(o.holiday(d(2030, 7, 15)), None);
        assert_eq!(o.holiday(d(2030, 7, 19)), Some("海の日"));
        assert_eq!(o.holiday(d(2030, 7, 1)), Some("架空の日"));
        // Inside the span: computed 山の日 8/11 (Sunday) is gone, 8/12 kept.
        assert_eq!(o.holiday(d(2030, 8, 11)), None);
        assert_eq!(o.holiday(d(2030, 8, 12)), Some("休日"));
        // Outside the span the computation applies.
        assert_eq!(o.holiday(d(2030, 9, 16)), Some("敬老の日"));
        assert_eq!(o.holiday(d(2030, 5, 3)), Some("憲法記念日"));
    }

    #[test]
    fn json_round_trip_and_rejects_duplicates() {
        let mut o = HolidayOverrides::new();
        o.set_not_holiday(d(2028, 7, 17));
        o.set_holiday(d(2028, 7, 21), "海の日");
        let json = serde_json::to_string(&o).unwrap();
        assert_eq!(
            json,
            r#"[{"date":"2028-07-17","name":null},{"date":"2028-07-21","name":"海の日"}]"#
        );
        assert_eq!(serde_json::from_str::<HolidayOverrides>(&json).unwrap(), o);
        let dup = r#"[{"date":"2028-07-17","name":null},{"date":"2028-07-17","name":"x"}]"#;
        let e = serde_json::from_str::<HolidayOverrides>(dup).unwrap_err();
        assert!(e.to_string().contains("listed twice"), "{e}");
        let bad = r#"[{"date":"2028-02-30","name":null}]"#;
        assert!(serde_json::from_str::<HolidayOverrides>(bad).is_err());
        let empty = r#"[{"date":"2028-02-03","name":" "}]"#;
        assert!(serde_json::from_str::<HolidayOverrides>(empty).is_err());
    }
}
