//! Go's `time` calendar: the proleptic Gregorian month lengths that `time.Parse` checks days
//! against and `time.Date` normalises with (YAML timestamps, Sprig's date functions).

/// Days in `month` (1–12) of `year`, leap years as the Gregorian calendar has them.
pub fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::days_in;

    #[test]
    fn month_lengths() {
        assert_eq!(days_in(2, 2024), 29);
        assert_eq!(days_in(2, 1900), 28);
        assert_eq!(days_in(2, 2000), 29);
        assert_eq!(days_in(2, 2023), 28);
        assert_eq!(days_in(4, 2023), 30);
        assert_eq!(days_in(12, 2023), 31);
    }
}
