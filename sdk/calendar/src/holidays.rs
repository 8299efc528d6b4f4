//! Japanese national holidays computed from the Act on National Holidays
//! (国民の祝日に関する法律, in force 1948-07-20) and its amendments, plus the
//! one-off days set by special laws.
//!
//! Names are spelled exactly as the Cabinet Office `syukujitsu.csv` spells
//! them ([`Holiday::name`]): substitute holidays (振替休日) and citizens'
//! holidays (国民の休日) are both listed there as `休日`, and the two 2019
//! accession days as `休日（祝日扱い）`. [`Holiday::full_name`] gives the
//! descriptive name a caller would speak or display instead.

use crate::date::{Date, Weekday};

/// First year for which holidays are computed (the Act took effect 1948-07-20).
pub const FIRST_YEAR: i32 = 1948;
/// Last year for which holidays are computed (limit of the equinox approximation).
pub const LAST_YEAR: i32 = 2150;

/// What made a day a holiday; decides how the substitute and citizens'
/// holiday rules treat it and which descriptive name fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HolidayKind {
    /// A 国民の祝日 listed in the Act (or by a special law treated as one, as
    /// the 2019 accession days were).
    National,
    /// 振替休日: the Act's substitute for a 祝日 falling on a Sunday.
    Substitute,
    /// 国民の休日: a weekday sandwiched between two 祝日.
    Citizens,
    /// A one-off rest day set by a special law that is not a 祝日
    /// (imperial weddings, the 1989 funeral, the 1990 enthronement).
    Special,
}

/// One computed holiday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Holiday {
    /// The date.
    pub date: Date,
    /// Name as the Cabinet Office list spells it (e.g. `勤労感謝の日`, `休日`).
    pub name: &'static str,
    /// Descriptive name (e.g. `国民の休日`, `振替休日`, `天皇の即位の日`,
    /// `皇太子徳仁親王の結婚の儀`); equals `name` for ordinary 祝日.
    pub full_name: &'static str,
    /// Why the day is a holiday.
    pub kind: HolidayKind,
}

/// 振替休日 first applied to 祝日 on or after 1973-04-12.
const SUBSTITUTE_SINCE: (i32, u8, u8) = (1973, 4, 12);
/// The 2007 revision: substitute moves to the nearest non-祝日, and the
/// citizens' holiday rule no longer excludes Sundays.
const REVISION_2007: i32 = 2007;
/// 国民の休日 introduced by the amendment in force 1985-12-27.
const CITIZENS_SINCE: (i32, u8, u8) = (1985, 12, 27);

/// The day of the vernal equinox (春分日) in Japan, by the standard
/// approximation valid for 1900-2150. The Cabinet Office fixes the actual
/// 春分の日 each February for the following year; the override list carries
/// it if it ever differs.
pub fn vernal_equinox_day(year: i32) -> Option<Date> {
    let c = match year {
        1900..=1979 => 20.8357,
        1980..=2099 => 20.8431,
        2100..=2150 => 21.8510,
        _ => return None,
    };
    Date::new(year, 3, equinox_day(year, c)).ok()
}

/// The day of the autumnal equinox (秋分日); see [`vernal_equinox_day`].
pub fn autumnal_equinox_day(year: i32) -> Option<Date> {
    let c = match year {
        1900..=1979 => 23.2588,
        1980..=2099 => 23.2488,
        2100..=2150 => 24.2488,
        _ => return None,
    };
    Date::new(year, 9, equinox_day(year, c)).ok()
}

/// `floor(c + 0.242194 (Y-1980) - trunc((Y-b)/4))` with b = 1983 before 1980
/// and 1980 after. The inner quotient truncates toward zero (checked against
/// the official list for 1955-1979, where flooring is off by one).
fn equinox_day(year: i32, c: f64) -> u8 {
    let leap_base = if year < 1980 { 1983 } else { 1980 };
    let leap_term = (year - leap_base) / 4; // Rust `/` truncates toward zero.
    let day = (c + 0.242194 * f64::from(year - 1980) - f64::from(leap_term)).floor();
    // Always 19..=24 for 1900-2150.
    day as u8
}

/// National-law names and the 2019 special ones.
mod names {
    pub const GANJITSU: &str = "元日";
    pub const SEIJIN: &str = "成人の日";
    pub const KENKOKU: &str = "建国記念の日";
    pub const TENNO: &str = "天皇誕生日";
    pub const SHUNBUN: &str = "春分の日";
    pub const MIDORI: &str = "みどりの日";
    pub const SHOWA: &str = "昭和の日";
    pub const KENPO: &str = "憲法記念日";
    pub const KODOMO: &str = "こどもの日";
    pub const UMI: &str = "海の日";
    pub const YAMA: &str = "山の日";
    pub const KEIRO: &str = "敬老の日";
    pub const SHUBUN: &str = "秋分の日";
    pub const TAIIKU: &str = "体育の日";
    pub const TAIIKU_2019: &str = "体育の日（スポーツの日）";
    pub const SPORTS: &str = "スポーツの日";
    pub const BUNKA: &str = "文化の日";
    pub const KINRO: &str = "勤労感謝の日";
    pub const KYUJITSU: &str = "休日";
    pub const SHUKUJITSU_ATSUKAI: &str = "休日（祝日扱い）";
    pub const SUBSTITUTE: &str = "振替休日";
    pub const CITIZENS: &str = "国民の休日";
}

/// Every holiday of `year` in date order, with kinds and descriptive names.
/// Empty outside [`FIRST_YEAR`]..=[`LAST_YEAR`].
pub fn holiday_details_in_year(year: i32) -> Vec<Holiday> {
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return Vec::new();
    }
    let mut days = statutory(year);
    days.sort_by_key(|h| h.date);
    let mut extra = substitutes(year, &days);
    extra.extend(citizens(year, &days, &extra));
    extra.extend(special(year));
    days.extend(extra);
    days.sort_by_key(|h| h.date);
    days
}

/// Every holiday of `year` as `(date, Cabinet Office name)`, in date order.
/// Empty outside 1948..=2150.
pub fn holidays_in_year(year: i32) -> Vec<(Date, &'static str)> {
    holiday_details_in_year(year)
        .into_iter()
        .map(|h| (h.date, h.name))
        .collect()
}

/// The computed holiday on `date`, if any (ignores override lists).
pub fn national_holiday_detail(date: Date) -> Option<Holiday> {
    holiday_details_in_year(date.year())
        .into_iter()
        .find(|h| h.date == date)
}

/// The Cabinet Office name of the computed holiday on `date`, if any
/// (e.g. `Some("勤労感謝の日")` for 2026-11-23, `Some("休日")` for the
/// 国民の休日 2026-09-22). Ignores override lists; use
/// [`crate::HolidayOverrides::holiday`] to apply them.
pub fn national_holiday(date: Date) -> Option<&'static str> {
    national_holiday_detail(date).map(|h| h.name)
}

/// The 国民の祝日 of the year (including the 2019 days treated as such).
fn statutory(year: i32) -> Vec<Holiday> {
    use names::*;
    let mut v = Vec::with_capacity(20);
    if year == 2019 {
        // 天皇の即位の日 and 即位礼正殿の儀: treated as 祝日 by the 2018 special law.
        v.push(national(
            ymd(2019, 5, 1),
            SHUKUJITSU_ATSUKAI,
            "天皇の即位の日",
        ));
        v.push(national(
            ymd(2019, 10, 22),
            SHUKUJITSU_ATSUKAI,
            "即位礼正殿の儀",
        ));
    }
    let mut fixed = |m: u8, d: u8, name: &'static str| {
        if let Ok(date) = Date::new(year, m, d) {
            v.push(national(date, name, name));
        }
    };
    // 1948: only the days after the Act took effect on 7/20.
    let full = year >= 1949;
    if full {
        fixed(1, 1, GANJITSU);
        if year <= 1999 {
            fixed(1, 15, SEIJIN);
        }
        if year >= 1967 {
            fixed(2, 11, KENKOKU);
        }
        match year {
            ..=1988 => fixed(4, 29, TENNO),
            1989..=2006 => fixed(4, 29, MIDORI),
            _ => fixed(4, 29, SHOWA),
        }
        if (1989..=2018).contains(&year) {
            fixed(12, 23, TENNO);
        }
        if year >= 2020 {
            fixed(2, 23, TENNO);
        }
        fixed(5, 3, KENPO);
        if year >= 2007 {
            fixed(5, 4, MIDORI);
        }
        fixed(5, 5, KODOMO);
        match year {
            1996..=2002 => fixed(7, 20, UMI),
            2020 => fixed(7, 23, UMI),
            2021 => fixed(7, 22, UMI),
            _ => {}
        }
        match year {
            2016..=2019 | 2022.. => fixed(8, 11, YAMA),
            2020 => fixed(8, 10, YAMA),
            2021 => fixed(8, 8, YAMA),
            _ => {}
        }
        if (1966..=2002).contains(&year) {
            fixed(9, 15, KEIRO);
        }
        match year {
            1966..=1999 => fixed(10, 10, TAIIKU),
            2020 => fixed(7, 24, SPORTS),
            2021 => fixed(7, 23, SPORTS),
            _ => {}
        }
    }
    fixed(11, 3, BUNKA);
    fixed(11, 23, KINRO);

    let mut monday = |m: u8, n: u8, name: &'static str| {
        if let Some(date) = Date::nth_weekday(year, m, Weekday::Monday, n) {
            v.push(national(date, name, name));
        }
    };
    if year >= 2000 {
        monday(1, 2, SEIJIN);
        match year {
            2000..=2018 => monday(10, 2, TAIIKU),
            2019 => monday(10, 2, TAIIKU_2019),
            2022.. => monday(10, 2, SPORTS),
            _ => {}
        }
    }
    if year >= 2003 {
        if year != 2020 && year != 2021 {
            monday(7, 3, UMI);
        }
        monday(9, 3, KEIRO);
    }
    if full {
        v.extend(vernal_equinox_day(year).map(|d| national(d, SHUNBUN, SHUNBUN)));
    }
    v.extend(autumnal_equinox_day(year).map(|d| national(d, SHUBUN, SHUBUN)));
    v
}

/// 振替休日 for `shuku` (the year's 祝日, sorted).
fn substitutes(year: i32, shuku: &[Holiday]) -> Vec<Holiday> {
    let since = ymd(SUBSTITUTE_SINCE.0, SUBSTITUTE_SINCE.1, SUBSTITUTE_SINCE.2);
    let is_shuku = |d: Date| shuku.iter().any(|h| h.date == d);
    let mut out = Vec::new();
    for h in shuku {
        if h.date < since || h.date.weekday() != Weekday::Sunday {
            continue;
        }
        let mut day = h.date.next_day();
        if year >= REVISION_2007 {
            // "the nearest following day that is not a 祝日".
            while let Some(d) = day.filter(|d| is_shuku(*d)) {
                day = d.next_day();
            }
        } else if day.is_some_and(is_shuku) {
            // Before 2007 only the very next day, and only if it was not itself a 祝日.
            continue;
        }
        if let Some(d) = day.filter(|d| d.year() == year) {
            if !out.iter().any(|x: &Holiday| x.date == d) {
                out.push(Holiday {
                    date: d,
                    name: names::KYUJITSU,
                    full_name: names::SUBSTITUTE,
                    kind: HolidayKind::Substitute,
                });
            }
        }
    }
    out
}

/// 国民の休日: a day whose previous and next days are 祝日 and which is not
/// itself a 祝日 (before 2007 also not a Sunday and not a 振替休日).
fn citizens(year: i32, shuku: &[Holiday], substitutes: &[Holiday]) -> Vec<Holiday> {
    let since = ymd(CITIZENS_SINCE.0, CITIZENS_SINCE.1, CITIZENS_SINCE.2);
    let mut out = Vec::new();
    for pair in shuku.windows(2) {
        let (a, b) = (pair[0].date, pair[1].date);
        if b.days_since_epoch() - a.days_since_epoch() != 2 {
            continue;
        }
        let Some(mid) = a.next_day() else { continue };
        if mid < since || substitutes.iter().any(|s| s.date == mid) {
            continue;
        }
        if year < REVISION_2007 && mid.weekday() == Weekday::Sunday {
            continue;
        }
        out.push(Holiday {
            date: mid,
            name: names::KYUJITSU,
            full_name: names::CITIZENS,
            kind: HolidayKind::Citizens,
        });
    }
    out
}

/// One-off rest days set by special laws that are not 祝日.
fn special(year: i32) -> Vec<Holiday> {
    const DAYS: [(i32, u8, u8, &str, &str); 4] = [
        (1959, 4, 10, "結婚の儀", "皇太子明仁親王の結婚の儀"),
        (1989, 2, 24, "大喪の礼", "昭和天皇の大喪の礼"),
        (1990, 11, 12, "即位礼正殿の儀", "即位礼正殿の儀"),
        (1993, 6, 9, "結婚の儀", "皇太子徳仁親王の結婚の儀"),
    ];
    DAYS.iter()
        .filter(|d| d.0 == year)
        .map(|&(y, m, d, name, full_name)| Holiday {
            date: ymd(y, m, d),
            name,
            full_name,
            kind: HolidayKind::Special,
        })
        .collect()
}

fn national(date: Date, name: &'static str, full_name: &'static str) -> Holiday {
    Holiday {
        date,
        name,
        full_name,
        kind: HolidayKind::National,
    }
}

/// A date literal known to be valid; only called with constants above.
fn ymd(y: i32, m: u8, d: u8) -> Date {
    Date::new(y, m, d).expect("constant date in the holiday tables is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u8, dd: u8) -> Date {
        Date::new(y, m, dd).unwrap()
    }

    #[test]
    fn examples_from_the_brief() {
        assert_eq!(national_holiday(d(2026, 9, 22)), Some("休日"));
        let h = national_holiday_detail(d(2026, 9, 22)).unwrap();
        assert_eq!(h.full_name, "国民の休日");
        assert_eq!(h.kind, HolidayKind::Citizens);
        assert_eq!(national_holiday(d(2026, 11, 23)), Some("勤労感謝の日"));
        assert_eq!(national_holiday(d(2026, 11, 24)), None);
    }

    #[test]
    fn act_starts_1948_07_20() {
        let y = holidays_in_year(1948);
        assert_eq!(
            y.iter().map(|x| x.1).collect::<Vec<_>>(),
            ["秋分の日", "文化の日", "勤労感謝の日"]
        );
        assert!(holidays_in_year(1947).is_empty());
        assert!(holidays_in_year(2151).is_empty());
        assert!(!holidays_in_year(2150).is_empty());
    }

    #[test]
    fn one_off_days() {
        let full = |y, m, dd| national_holiday_detail(d(y, m, dd)).map(|h| h.full_name);
        assert_eq!(full(1959, 4, 10), Some("皇太子明仁親王の結婚の儀"));
        assert_eq!(full(1989, 2, 24), Some("昭和天皇の大喪の礼"));
        assert_eq!(full(1990, 11, 12), Some("即位礼正殿の儀"));
        assert_eq!(full(1993, 6, 9), Some("皇太子徳仁親王の結婚の儀"));
        assert_eq!(full(2019, 5, 1), Some("天皇の即位の日"));
        assert_eq!(full(2019, 10, 22), Some("即位礼正殿の儀"));
        assert_eq!(full(2019, 4, 30), Some("国民の休日"));
        assert_eq!(full(2019, 5, 2), Some("国民の休日"));
        assert_eq!(full(2019, 5, 6), Some("振替休日"));
        assert_eq!(national_holiday(d(2019, 12, 23)), None);
    }

    #[test]
    fn olympic_moves() {
        let n = |y, m, dd| national_holiday(d(y, m, dd));
        assert_eq!(n(2020, 7, 23), Some("海の日"));
        assert_eq!(n(2020, 7, 24), Some("スポーツの日"));
        assert_eq!(n(2020, 8, 10), Some("山の日"));
        assert_eq!(n(2020, 10, 12), None);
        assert_eq!(n(2021, 7, 22), Some("海の日"));
        assert_eq!(n(2021, 7, 23), Some("スポーツの日"));
        assert_eq!(n(2021, 8, 8), Some("山の日"));
        assert_eq!(n(2021, 8, 9), Some("休日"));
        assert_eq!(n(2021, 10, 11), None);
    }

    #[test]
    fn far_future_rules_hold() {
        // 2150: equinoxes from the 2100-2150 constants, Happy Monday days on Mondays.
        for h in holiday_details_in_year(2150) {
            if ["成人の日", "海の日", "敬老の日", "スポーツの日"].contains(&h.name)
            {
                assert_eq!(h.date.weekday(), Weekday::Monday, "{h:?}");
            }
        }
        // Formula values (the 2100 constants absorb 2100 not being a leap year).
        assert_eq!(vernal_equinox_day(2100), Some(d(2100, 3, 20)));
        assert_eq!(vernal_equinox_day(2030), Some(d(2030, 3, 20)));
        assert_eq!(autumnal_equinox_day(2100), Some(d(2100, 9, 23)));
        assert_eq!(vernal_equinox_day(2151), None);
    }

    #[test]
    fn substitute_2007_rule_skips_golden_week() {
        // 2008-05-04 (みどりの日) was a Sunday: 5/5 is a 祝日, so the substitute is 5/6.
        assert_eq!(national_holiday(d(2008, 5, 6)), Some("休日"));
        // Before 2007 a Sunday 祝日 followed by a 祝日 gave no substitute.
        // 1973-02-11 (Sunday) predates the substitute rule entirely.
        assert_eq!(national_holiday(d(1973, 2, 12)), None);
        assert_eq!(national_holiday(d(1973, 4, 30)), Some("休日"));
    }

    #[test]
    fn years_are_sorted_and_unique() {
        for y in FIRST_YEAR..=LAST_YEAR {
            let v = holidays_in_year(y);
            assert!(v.windows(2).all(|w| w[0].0 < w[1].0), "year {y}: {v:?}");
            assert!(v.iter().all(|h| h.0.year() == y));
        }
    }
}
