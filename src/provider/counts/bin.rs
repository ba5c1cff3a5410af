//! [`Bin`]: the bins counts are kept in, fixed (`date_bin`, `date_trunc` to
//! a second … a week) or calendar months (`date_trunc('month' | 'quarter' |
//! 'year')`), all in UTC.

use chrono::{DateTime, Datelike, NaiveDate};

/// One day in milliseconds.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// The bins of a grouped count, in milliseconds since the epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    /// Bins of `stride_ms` starting at `origin_ms + k · stride_ms`
    /// (`date_bin(stride, timestamp, origin)`).
    Fixed {
        /// The width.
        stride_ms: i64,
        /// Where a bin starts.
        origin_ms: i64,
    },
    /// Calendar bins of `months` months, starting on the first of a month
    /// whose index since 1970-01 is a multiple of `months` (`1`: months,
    /// `3`: quarters, `12`: years).
    Months {
        /// Months per bin.
        months: u32,
    },
}

impl Bin {
    /// Fixed bins of `stride_ms` from `origin_ms`.
    pub fn fixed(stride_ms: i64, origin_ms: i64) -> Self {
        Bin::Fixed {
            stride_ms,
            origin_ms,
        }
    }

    /// The start of the bin holding `ts`.
    pub fn start_of(&self, ts: i64) -> i64 {
        match *self {
            Bin::Fixed {
                stride_ms,
                origin_ms,
            } => origin_ms + (ts - origin_ms).div_euclid(stride_ms) * stride_ms,
            Bin::Months { months } => {
                let index = month_index(ts);
                month_start(index - index.rem_euclid(i64::from(months)))
            }
        }
    }

    /// The start of the bin after the one holding `ts`.
    pub fn next_start(&self, ts: i64) -> i64 {
        match *self {
            Bin::Fixed { stride_ms, .. } => self.start_of(ts) + stride_ms,
            Bin::Months { months } => {
                let index = month_index(ts);
                month_start(index - index.rem_euclid(i64::from(months)) + i64::from(months))
            }
        }
    }

    /// The fixed bins statistics are asked in: these bins themselves, or
    /// days for calendar bins (a month starts on a day).
    pub(crate) fn grid(&self) -> (i64, i64) {
        match *self {
            Bin::Fixed {
                stride_ms,
                origin_ms,
            } => (stride_ms, origin_ms),
            Bin::Months { .. } => (DAY_MS, 0),
        }
    }

    /// Whether every bin of `self` lies inside one bin of `other`: an
    /// expression constant within `other`'s bins is then constant within
    /// `self`'s.
    pub fn refines(&self, other: &Bin) -> bool {
        match (*self, *other) {
            (
                Bin::Fixed {
                    stride_ms: a,
                    origin_ms: oa,
                },
                Bin::Fixed {
                    stride_ms: b,
                    origin_ms: ob,
                },
            ) => b % a == 0 && (oa - ob).rem_euclid(a) == 0,
            // Every month starts on a day (in UTC): bins that divide days
            // and start on a day boundary lie inside months.
            (
                Bin::Fixed {
                    stride_ms,
                    origin_ms,
                },
                Bin::Months { .. },
            ) => DAY_MS % stride_ms == 0 && origin_ms.rem_euclid(stride_ms) == 0,
            (Bin::Months { months: a }, Bin::Months { months: b }) => b % a == 0,
            (Bin::Months { .. }, Bin::Fixed { .. }) => false,
        }
    }
}

/// Months since 1970-01 of the month holding `ts` (UTC).
fn month_index(ts: i64) -> i64 {
    let date = DateTime::from_timestamp_millis(ts)
        .map(|d| d.date_naive())
        .unwrap_or_default();
    (i64::from(date.year()) - 1970) * 12 + i64::from(date.month0())
}

/// The first millisecond of month `index` since 1970-01 (UTC).
fn month_start(index: i64) -> i64 {
    let year = i32::try_from(1970 + index.div_euclid(12)).unwrap_or(i32::MAX);
    let month = u32::try_from(index.rem_euclid(12)).unwrap_or(0) + 1;
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
        .unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    /// 2026-02-10T00:00:00Z.
    const T0: i64 = 1_770_681_600_000;

    #[test]
    fn calendar_bins_start_on_the_first_of_the_month() {
        let month = Bin::Months { months: 1 };
        // 2026-02-01, 2026-03-01 (28 days later).
        let feb = 1_769_904_000_000;
        assert_eq!(month.start_of(T0), feb);
        assert_eq!(month.next_start(T0), feb + 28 * DAY_MS);
        assert_eq!(month.start_of(feb), feb);
        assert_eq!(month.start_of(feb - 1), feb - 31 * DAY_MS);
        // Quarters and years from January.
        let jan = 1_767_225_600_000;
        assert_eq!(Bin::Months { months: 3 }.start_of(T0), jan);
        assert_eq!(Bin::Months { months: 12 }.start_of(T0), jan);
        assert_eq!(
            Bin::Months { months: 12 }.next_start(T0),
            jan + 365 * DAY_MS
        );
        assert_eq!(Bin::Months { months: 1 }.start_of(0), 0);
    }

    #[test]
    fn refinement_needs_dividing_widths_and_shared_edges() {
        let min = |m: i64| Bin::fixed(m * 60_000, 0);
        assert!(min(15).refines(&Bin::fixed(HOUR, 0)));
        assert!(
            !Bin::fixed(HOUR, 0).refines(&min(15)),
            "15-min bins split an hour"
        );
        assert!(!min(45).refines(&Bin::fixed(HOUR, 0)));
        assert!(!Bin::fixed(HOUR, 60_000).refines(&Bin::fixed(DAY_MS, 0)));
        assert!(Bin::fixed(HOUR, -HOUR).refines(&Bin::fixed(DAY_MS, 0)));
        let week = Bin::fixed(7 * DAY_MS, 4 * DAY_MS);
        assert!(Bin::fixed(DAY_MS, 0).refines(&week));
        assert!(!week.refines(&Bin::Months { months: 1 }));
        assert!(Bin::fixed(HOUR, 0).refines(&Bin::Months { months: 12 }));
        assert!(Bin::Months { months: 3 }.refines(&Bin::Months { months: 12 }));
        assert!(!Bin::Months { months: 12 }.refines(&Bin::Months { months: 3 }));
        assert!(!Bin::Months { months: 1 }.refines(&Bin::fixed(DAY_MS, 0)));
    }
}
