//! Instants as epoch milliseconds, the unit Keycloak's JSON uses and the store keeps.

use std::time::{SystemTime, UNIX_EPOCH};

/// An instant, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);

    pub fn now() -> Self {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }

    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds, truncated (Keycloak's `notBefore` and JWT times are whole seconds).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub const fn plus_secs(self, secs: i64) -> Self {
        Timestamp(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    /// Midnight UTC at the start of a calendar date, from `yyyy-mm-dd` (Keycloak's date
    /// filters); `None` unless it is a real date.
    pub fn from_date(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, '-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        if !(1..=12).contains(&m) || d < 1 || d > days_in_month[(m - 1) as usize] {
            return None;
        }
        // Days since 1970-01-01 of a proleptic Gregorian date, counting years from March.
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let year_of_era = y - era * 400;
        let day_of_year = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        Some(Timestamp::from_secs((era * 146_097 + day_of_era - 719_468) * 86_400))
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    #[test]
    fn dates_are_midnight_utc_and_only_real_dates_parse() {
        assert_eq!(Timestamp::from_date("1970-01-01"), Some(Timestamp::EPOCH));
        assert_eq!(Timestamp::from_date("2026-11-27").map(Timestamp::as_secs), Some(1_795_737_600));
        assert_eq!(Timestamp::from_date("2024-02-29").map(Timestamp::as_secs), Some(1_709_164_800));
        assert_eq!(Timestamp::from_date("1969-12-31").map(Timestamp::as_secs), Some(-86_400));
        for bad in ["2023-02-29", "2026-13-01", "2026-00-10", "2026-1-1", "26-11-27", "2026-11-27x", "yesterday", ""] {
            assert_eq!(Timestamp::from_date(bad), None, "{bad}");
        }
    }
}
