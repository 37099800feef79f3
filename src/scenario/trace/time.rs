//! RFC 3339 timestamps to unix seconds, by hand: one function is all a trace needs, not a
//! date-time dependency.

/// `2026-05-01T12:00:00.250Z` or `...+02:00` as unix seconds; `None` when it is not RFC 3339
/// (a space for the `T` is accepted, as RFC 3339 allows).
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let s = text.get(from..to)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction = 0.0;
    if let Some(digits) = rest.strip_prefix('.') {
        let n = digits.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        fraction = format!("0.{}", &digits[..n]).parse().ok()?;
        rest = &digits[n..];
    }
    let zone = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num_in(rest, 1)?, num_in(rest, 4)?);
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - zone;
    Some(secs as f64 + fraction)
}

/// Two digits of `s` at `at`.
fn num_in(s: &str, at: usize) -> Option<i64> {
    let d = s.get(at..at + 2)?;
    d.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| d.parse().ok())?
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_date_reads() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400.0));
        assert_eq!(
            parse_rfc3339("2026-05-01T12:00:00.25Z"),
            Some(1_777_636_800.25)
        );
        assert_eq!(
            parse_rfc3339("2026-05-01T14:00:00+02:00"),
            Some(1_777_636_800.0)
        );
        assert_eq!(
            parse_rfc3339("2026-05-01 11:30:00-00:30"),
            Some(1_777_636_800.0)
        );
    }

    #[test]
    fn refuses_what_is_not_rfc3339() {
        for bad in [
            "",
            "2026-05-01",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-05-01T24:00:00Z",
            "2026-05-01T12:00:00",
            "2026-05-01T12:00:00.Z",
            "2026-05-01T12:00:00+2:00",
            "2026-05-01T12:00:00Zjunk",
            "2026-05-01T12:0é:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
