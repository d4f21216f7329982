//! Date functions with Go's reference-time layouts.

use std::rc::Rc;

use jiff::{Timestamp, Zoned, tz::TimeZone};

use gitops_go::date::days_in;
use gitops_go::duration;

use super::{a_str, min_args, nargs, to_int64};
use crate::template::{FnErr, FuncMap};
use crate::value::{Object, Value};

/// A Go `time.Time`; the name is that of a zone Go made up while parsing (`FixedZone`).
pub struct GoTime(pub Zoned, pub Option<Rc<str>>);

impl Object for GoTime {
    fn type_name(&self) -> String {
        "time.Time".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let z = &self.0;
        Some(match name {
            "Year" => Value::Int(z.year() as i64),
            "Month" => Value::Int(z.month() as i64),
            "Day" => Value::Int(z.day() as i64),
            "Hour" => Value::Int(z.hour() as i64),
            "Minute" => Value::Int(z.minute() as i64),
            "Second" => Value::Int(z.second() as i64),
            "Unix" => Value::Int(z.timestamp().as_nanosecond().div_euclid(1_000_000_000) as i64),
            "UnixNano" => Value::Int(z.timestamp().as_nanosecond() as i64),
            "UTC" => Value::Object(Rc::new(GoTime(z.with_time_zone(TimeZone::UTC), None))),
            "String" => Value::from(self.display()),
            _ => return None,
        })
    }
    fn has_method(&self, name: &str) -> bool {
        name == "Format"
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if name != "Format" {
            return None;
        }
        match args.first() {
            Some(Value::Str(l)) => {
                Some(Ok(Value::from(format_named(&self.0, l, self.1.as_deref()))))
            }
            _ => Some(Err("wrong type for value; expected string".into())),
        }
    }
    fn display(&self) -> String {
        format_named(
            &self.0,
            "2006-01-02 15:04:05.999999999 -0700 MST",
            self.1.as_deref(),
        )
    }
    fn to_data(&self) -> Value {
        Value::from(format_named(
            &self.0,
            "2006-01-02T15:04:05.999999999Z07:00",
            self.1.as_deref(),
        ))
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn zone_abbrev(z: &Zoned) -> String {
    let tz = z.time_zone();
    if tz.iana_name().is_none()
        && let Ok(off) = tz.to_fixed_offset()
        && off.seconds() != 0
    {
        // Go's FixedZone("", offset) prints its offset as -0700
        let s = off.seconds();
        let sign = if s < 0 { '-' } else { '+' };
        let a = s.abs();
        return format!("{sign}{:02}{:02}", a / 3600, (a % 3600) / 60);
    }
    let info = tz.to_offset_info(z.timestamp());
    let a = info.abbreviation().to_string();
    if a.is_empty() || a.starts_with('+') || a.starts_with('-') {
        let secs = z.offset().seconds();
        if secs == 0 {
            return "UTC".into();
        }
        let sign = if secs < 0 { '-' } else { '+' };
        let s = secs.abs();
        return if s % 3600 == 0 {
            format!("{sign}{:02}", s / 3600)
        } else {
            format!("{sign}{:02}{:02}", s / 3600, (s % 3600) / 60)
        };
    }
    a
}

/// Formats a time with a Go layout (`2006-01-02T15:04:05Z07:00`).
pub fn format_go(z: &Zoned, layout: &str) -> String {
    format_named(z, layout, None)
}

/// [`format_go`] with the zone's name given.
fn format_named(z: &Zoned, layout: &str, zone_name: Option<&str>) -> String {
    let mut out = String::new();
    let b = layout.as_bytes();
    let mut i = 0;
    let hour = z.hour() as i64;
    let off = z.offset().seconds();
    let zone = |out: &mut String, z_style: bool, colon: bool, secs_too: bool, short: bool| {
        if z_style && off == 0 {
            out.push('Z');
            return;
        }
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.abs();
        out.push(sign);
        out.push_str(&format!("{:02}", a / 3600));
        if short {
            return;
        }
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{:02}", (a % 3600) / 60));
        if secs_too {
            if colon {
                out.push(':');
            }
            out.push_str(&format!("{:02}", a % 60));
        }
    };
    while i < b.len() {
        let rest = &layout[i..];
        let m = |p: &str| rest.starts_with(p);
        if m("January") {
            out.push_str(MONTHS[z.month() as usize - 1]);
            i += 7;
        } else if m("Jan") {
            out.push_str(&MONTHS[z.month() as usize - 1][..3]);
            i += 3;
        } else if m("Monday") {
            out.push_str(DAYS[z.weekday().to_sunday_zero_offset() as usize]);
            i += 6;
        } else if m("Mon") {
            out.push_str(&DAYS[z.weekday().to_sunday_zero_offset() as usize][..3]);
            i += 3;
        } else if m("MST") {
            match zone_name {
                Some(n) => out.push_str(n),
                None => out.push_str(&zone_abbrev(z)),
            }
            i += 3;
        } else if m("2006") {
            out.push_str(&format!("{:04}", z.year()));
            i += 4;
        } else if m("2") {
            out.push_str(&z.day().to_string());
            i += 1;
        } else if m("01") {
            out.push_str(&format!("{:02}", z.month()));
            i += 2;
        } else if m("02") {
            out.push_str(&format!("{:02}", z.day()));
            i += 2;
        } else if m("002") {
            out.push_str(&format!("{:03}", z.day_of_year()));
            i += 3;
        } else if m("03") {
            let h = if hour % 12 == 0 { 12 } else { hour % 12 };
            out.push_str(&format!("{h:02}"));
            i += 2;
        } else if m("04") {
            out.push_str(&format!("{:02}", z.minute()));
            i += 2;
        } else if m("05") {
            out.push_str(&format!("{:02}", z.second()));
            i += 2;
        } else if m("06") {
            out.push_str(&format!("{:02}", z.year() % 100));
            i += 2;
        } else if m("15") {
            out.push_str(&format!("{hour:02}"));
            i += 2;
        } else if m("__2") {
            out.push_str(&format!("{:>3}", z.day_of_year()));
            i += 3;
        } else if m("_2") {
            out.push_str(&format!("{:>2}", z.day()));
            i += 2;
        } else if m("1") {
            out.push_str(&z.month().to_string());
            i += 1;
        } else if m("3") {
            let h = if hour % 12 == 0 { 12 } else { hour % 12 };
            out.push_str(&h.to_string());
            i += 1;
        } else if m("4") {
            out.push_str(&z.minute().to_string());
            i += 1;
        } else if m("5") {
            out.push_str(&z.second().to_string());
            i += 1;
        } else if m("PM") {
            out.push_str(if hour >= 12 { "PM" } else { "AM" });
            i += 2;
        } else if m("pm") {
            out.push_str(if hour >= 12 { "pm" } else { "am" });
            i += 2;
        } else if m("Z07:00:00") {
            zone(&mut out, true, true, true, false);
            i += 9;
        } else if m("-07:00:00") {
            zone(&mut out, false, true, true, false);
            i += 9;
        } else if m("Z070000") {
            zone(&mut out, true, false, true, false);
            i += 7;
        } else if m("-070000") {
            zone(&mut out, false, false, true, false);
            i += 7;
        } else if m("Z07:00") {
            zone(&mut out, true, true, false, false);
            i += 6;
        } else if m("-07:00") {
            zone(&mut out, false, true, false, false);
            i += 6;
        } else if m("Z0700") {
            zone(&mut out, true, false, false, false);
            i += 5;
        } else if m("-0700") {
            zone(&mut out, false, false, false, false);
            i += 5;
        } else if m("Z07") {
            zone(&mut out, true, false, false, true);
            i += 3;
        } else if m("-07") {
            zone(&mut out, false, false, false, true);
            i += 3;
        } else if (m(".0") || m(".9") || m(",0") || m(",9"))
            && !rest[1..]
                .bytes()
                .find(|&c| c != rest.as_bytes()[1])
                .is_some_and(|c| c.is_ascii_digit())
        {
            let ch = rest.as_bytes()[1];
            let n = rest[1..].bytes().take_while(|&c| c == ch).count();
            let ns = z.subsec_nanosecond();
            let digits = format!("{ns:09}");
            let mut d = digits[..n.min(9)].to_string();
            if ch == b'9' {
                d = d.trim_end_matches('0').to_string();
                if !d.is_empty() {
                    out.push(rest.as_bytes()[0] as char);
                    out.push_str(&d);
                }
            } else {
                out.push(rest.as_bytes()[0] as char);
                out.push_str(&d);
            }
            i += 1 + n;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn local() -> TimeZone {
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

fn time_arg(v: &Value) -> Zoned {
    match v {
        Value::Object(o) if o.type_name() == "time.Time" => {
            match o.as_any().and_then(|a| a.downcast_ref::<GoTime>()) {
                Some(g) => g.0.with_time_zone(local()),
                None => {
                    let secs = o.field("UnixNano").map(|v| to_int64(&v)).unwrap_or(0);
                    Timestamp::from_nanosecond(secs as i128)
                        .unwrap_or(Timestamp::UNIX_EPOCH)
                        .to_zoned(local())
                }
            }
        }
        Value::Int(i) => Timestamp::from_second(*i)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned(local()),
        _ => Zoned::now().with_time_zone(local()),
    }
}

fn tz_named(name: &str) -> TimeZone {
    match name {
        "Local" => local(),
        "UTC" | "" => TimeZone::UTC,
        n => TimeZone::get(n).unwrap_or(TimeZone::UTC),
    }
}

/// One element of a Go layout.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// Fractional seconds: digit count, `9`s (trailing zeros trimmed) rather than `0`s.
    Frac(usize, bool),
}

fn starts_lower(s: &[u8]) -> bool {
    s.first().is_some_and(|c| c.is_ascii_lowercase())
}

/// Go's `nextStdChunk`: (prefix, element, suffix).
fn next_std(layout: &str) -> (&str, Option<(Std, usize)>) {
    let b = layout.as_bytes();
    for i in 0..b.len() {
        let r = &b[i..];
        let m = |p: &str| r.starts_with(p.as_bytes());
        let found: Option<(Std, usize)> = match b[i] {
            b'J' if m("Jan") => Some(if m("January") {
                (Std::LongMonth, 7)
            } else if !starts_lower(&r[3..]) {
                (Std::Month, 3)
            } else {
                continue;
            }),
            b'M' if m("Mon") => {
                if m("Monday") {
                    Some((Std::LongWeekDay, 6))
                } else if !starts_lower(&r[3..]) {
                    Some((Std::WeekDay, 3))
                } else {
                    None
                }
            }
            b'M' if m("MST") => Some((Std::Tz, 3)),
            b'0' if r.len() >= 2 && (b'1'..=b'6').contains(&r[1]) => Some((
                [
                    Std::ZeroMonth,
                    Std::ZeroDay,
                    Std::ZeroHour12,
                    Std::ZeroMinute,
                    Std::ZeroSecond,
                    Std::Year,
                ][(r[1] - b'1') as usize],
                2,
            )),
            b'0' if m("002") => Some((Std::ZeroYearDay, 3)),
            b'1' => Some(if m("15") {
                (Std::Hour, 2)
            } else {
                (Std::NumMonth, 1)
            }),
            b'2' => Some(if m("2006") {
                (Std::LongYear, 4)
            } else {
                (Std::Day, 1)
            }),
            b'_' if m("_2") => {
                if m("_2006") {
                    // a literal underscore before a long year
                    return (&layout[..i + 1], Some((Std::LongYear, 4)));
                }
                Some((Std::UnderDay, 2))
            }
            b'_' if m("__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if m("PM") => Some((Std::PM, 2)),
            b'p' if m("pm") => Some((Std::Pm, 2)),
            b'-' if m("-07:00:00") => Some((Std::NumColonSecondsTz, 9)),
            b'-' if m("-070000") => Some((Std::NumSecondsTz, 7)),
            b'-' if m("-07:00") => Some((Std::NumColonTz, 6)),
            b'-' if m("-0700") => Some((Std::NumTz, 5)),
            b'-' if m("-07") => Some((Std::NumShortTz, 3)),
            b'Z' if m("Z07:00:00") => Some((Std::Iso8601ColonSecondsTz, 9)),
            b'Z' if m("Z070000") => Some((Std::Iso8601SecondsTz, 7)),
            b'Z' if m("Z07:00") => Some((Std::Iso8601ColonTz, 6)),
            b'Z' if m("Z0700") => Some((Std::Iso8601Tz, 5)),
            b'Z' if m("Z07") => Some((Std::Iso8601ShortTz, 3)),
            b'.' | b',' if r.len() >= 2 && (r[1] == b'0' || r[1] == b'9') => {
                let ch = r[1];
                let mut j = 1;
                while j < r.len() && r[j] == ch {
                    j += 1;
                }
                if j < r.len() && r[j].is_ascii_digit() {
                    None
                } else {
                    Some((Std::Frac(j - 1, ch == b'9'), j))
                }
            }
            _ => None,
        };
        if let Some(f) = found {
            return (&layout[..i], Some(f));
        }
    }
    (layout, None)
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn getnum(v: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = v.as_bytes();
    if !b.first()?.is_ascii_digit() {
        return None;
    }
    if b.len() < 2 || !b[1].is_ascii_digit() {
        if fixed {
            return None;
        }
        return Some(((b[0] - b'0') as i64, &v[1..]));
    }
    Some((((b[0] - b'0') * 10 + (b[1] - b'0')) as i64, &v[2..]))
}

fn getnum3(v: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = v.as_bytes();
    let mut n = 0i64;
    let mut i = 0;
    while i < 3 && i < b.len() && b[i].is_ascii_digit() {
        n = n * 10 + (b[i] - b'0') as i64;
        i += 1;
    }
    if i == 0 || (fixed && i != 3) {
        return None;
    }
    Some((n, &v[i..]))
}

fn lookup_name<'a>(names: &[&str], v: &'a str, short: bool) -> Option<(usize, &'a str)> {
    for (i, n) in names.iter().enumerate() {
        let n = if short { &n[..3] } else { n };
        if v.len() >= n.len() && v[..n.len()].eq_ignore_ascii_case(n) {
            return Some((i, &v[n.len()..]));
        }
    }
    None
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Go's `time.ParseInLocation`.
pub fn parse_go(
    layout: &str,
    value: &str,
    loc: &TimeZone,
) -> Result<(Zoned, Option<Rc<str>>), String> {
    let (alayout, avalue) = (layout, value);
    let perr = |elem: &str, val: &str, msg: &str| -> String {
        if msg.is_empty() {
            format!(
                "parsing time {} as {}: cannot parse {} as {}",
                quote(avalue),
                quote(alayout),
                quote(val),
                quote(elem)
            )
        } else {
            format!("parsing time {}{msg}", quote(avalue))
        }
    };
    let (mut year, mut month, mut day, mut yday) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let (mut pm_set, mut am_set) = (false, false);
    let mut z_utc = false;
    let mut offset: Option<i64> = None;
    let mut zone_name: Option<String> = None;
    let mut layout = layout;
    let mut value = value;
    loop {
        let (prefix, std) = next_std(layout);
        let std_str = match std {
            Some((_, n)) => &layout[prefix.len()..prefix.len() + n],
            None => "",
        };
        // skip spaces like Go's skip(): spaces in the layout match runs of spaces
        let mut pv = value;
        let mut pp = prefix;
        while !pp.is_empty() {
            if pp.starts_with(' ') {
                if !pv.is_empty() && !pv.starts_with(' ') {
                    return Err(perr(prefix, value, ""));
                }
                pp = pp.trim_start_matches(' ');
                pv = pv.trim_start_matches(' ');
                continue;
            }
            let c = pp.chars().next().unwrap_or(' ');
            if !pv.starts_with(c) {
                return Err(perr(prefix, value, ""));
            }
            pp = &pp[c.len_utf8()..];
            pv = &pv[c.len_utf8()..];
        }
        value = pv;
        let Some((std, n)) = std else {
            if !value.is_empty() {
                return Err(perr("", "", &format!(": extra text: {}", quote(value))));
            }
            break;
        };
        layout = &layout[prefix.len() + n..];
        let hold = value;
        let bad = || perr(std_str, hold, "");
        let range = |what: &str| perr("", "", &format!(": {what} out of range"));
        match std {
            Std::Year => {
                if value.len() < 2 {
                    return Err(bad());
                }
                let y: i64 = value[..2].parse().map_err(|_| bad())?;
                if !value.as_bytes()[..2].iter().all(u8::is_ascii_digit) {
                    return Err(bad());
                }
                year = if y >= 69 { y + 1900 } else { y + 2000 };
                value = &value[2..];
            }
            Std::LongYear => {
                if value.len() < 4 || !value.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
                    return Err(bad());
                }
                year = value[..4].parse().map_err(|_| bad())?;
                value = &value[4..];
            }
            Std::Month | Std::LongMonth => {
                let (i, r) = lookup_name(&MONTHS, value, std == Std::Month).ok_or_else(bad)?;
                month = i as i64 + 1;
                value = r;
            }
            Std::NumMonth | Std::ZeroMonth => {
                let (m, r) = getnum(value, std == Std::ZeroMonth).ok_or_else(bad)?;
                if !(1..=12).contains(&m) {
                    return Err(range("month"));
                }
                month = m;
                value = r;
            }
            Std::WeekDay | Std::LongWeekDay => {
                let (_, r) = lookup_name(&DAYS, value, std == Std::WeekDay).ok_or_else(bad)?;
                value = r;
            }
            Std::Day | Std::UnderDay | Std::ZeroDay => {
                if std == Std::UnderDay && value.starts_with(' ') {
                    value = &value[1..];
                }
                let (d, r) = getnum(value, std == Std::ZeroDay).ok_or_else(bad)?;
                day = d;
                value = r;
            }
            Std::UnderYearDay | Std::ZeroYearDay => {
                for _ in 0..2 {
                    if std == Std::UnderYearDay && value.starts_with(' ') {
                        value = &value[1..];
                    }
                }
                let (d, r) = getnum3(value, std == Std::ZeroYearDay).ok_or_else(bad)?;
                if !(1..=366).contains(&d) {
                    return Err(range("day-of-year"));
                }
                yday = d;
                value = r;
            }
            Std::Hour => {
                let (h, r) = getnum(value, false).ok_or_else(bad)?;
                if !(0..24).contains(&h) {
                    return Err(range("hour"));
                }
                hour = h;
                value = r;
            }
            Std::Hour12 | Std::ZeroHour12 => {
                let (h, r) = getnum(value, std == Std::ZeroHour12).ok_or_else(bad)?;
                if !(0..=12).contains(&h) {
                    return Err(range("hour"));
                }
                hour = h;
                value = r;
            }
            Std::Minute | Std::ZeroMinute => {
                let (m, r) = getnum(value, std == Std::ZeroMinute).ok_or_else(bad)?;
                if !(0..60).contains(&m) {
                    return Err(range("minute"));
                }
                min = m;
                value = r;
            }
            Std::Second | Std::ZeroSecond => {
                let (s, r) = getnum(value, std == Std::ZeroSecond).ok_or_else(bad)?;
                if !(0..60).contains(&s) {
                    return Err(range("second"));
                }
                sec = s;
                value = r;
                // fractional seconds after the seconds, when the layout has none
                let vb = value.as_bytes();
                if vb.len() >= 2 && (vb[0] == b'.' || vb[0] == b',') && vb[1].is_ascii_digit() {
                    if let (_, Some((Std::Frac(..), _))) = next_std(layout) {
                        continue;
                    }
                    let mut n = 2;
                    while n < vb.len() && vb[n].is_ascii_digit() {
                        n += 1;
                    }
                    nsec = parse_nanos(&value[1..n]);
                    value = &value[n..];
                }
            }
            Std::PM | Std::Pm => {
                if value.len() < 2 {
                    return Err(bad());
                }
                let p = &value[..2];
                let ok = if std == Std::PM {
                    ["PM", "AM"]
                } else {
                    ["pm", "am"]
                };
                if p == ok[0] {
                    pm_set = true;
                } else if p == ok[1] {
                    am_set = true;
                } else {
                    return Err(bad());
                }
                value = &value[2..];
            }
            Std::Iso8601Tz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonTz
            | Std::Iso8601ColonSecondsTz
            | Std::NumTz
            | Std::NumSecondsTz
            | Std::NumShortTz
            | Std::NumColonTz
            | Std::NumColonSecondsTz => {
                let iso = matches!(
                    std,
                    Std::Iso8601Tz
                        | Std::Iso8601SecondsTz
                        | Std::Iso8601ShortTz
                        | Std::Iso8601ColonTz
                        | Std::Iso8601ColonSecondsTz
                );
                if iso && value.starts_with('Z') {
                    value = &value[1..];
                    z_utc = true;
                    continue;
                }
                let vb = value.as_bytes();
                let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
                let (hh, mm, ss, rest): (&[u8], &[u8], &[u8], usize) = match std {
                    Std::NumColonTz | Std::Iso8601ColonTz => {
                        if vb.len() < 6 || vb[3] != b':' {
                            return Err(bad());
                        }
                        (&vb[1..3], &vb[4..6], b"00", 6)
                    }
                    Std::NumShortTz | Std::Iso8601ShortTz => {
                        if vb.len() < 3 {
                            return Err(bad());
                        }
                        (&vb[1..3], b"00", b"00", 3)
                    }
                    Std::NumColonSecondsTz | Std::Iso8601ColonSecondsTz => {
                        if vb.len() < 9 || vb[3] != b':' || vb[6] != b':' {
                            return Err(bad());
                        }
                        (&vb[1..3], &vb[4..6], &vb[7..9], 9)
                    }
                    Std::NumSecondsTz | Std::Iso8601SecondsTz => {
                        if vb.len() < 7 {
                            return Err(bad());
                        }
                        (&vb[1..3], &vb[3..5], &vb[5..7], 7)
                    }
                    _ => {
                        if vb.len() < 5 {
                            return Err(bad());
                        }
                        (&vb[1..3], &vb[3..5], b"00", 5)
                    }
                };
                if !(digits(hh) && digits(mm) && digits(ss)) {
                    return Err(bad());
                }
                let num = |s: &[u8]| ((s[0] - b'0') * 10 + (s[1] - b'0')) as i64;
                let (h, m, s) = (num(hh), num(mm), num(ss));
                if h > 24 || m > 60 || s > 60 {
                    return Err(range("time zone offset"));
                }
                let o = (h * 60 + m) * 60 + s;
                offset = Some(match vb[0] {
                    b'+' => o,
                    b'-' => -o,
                    _ => return Err(bad()),
                });
                value = &value[rest..];
            }
            Std::Tz => {
                if value.len() >= 3 && &value[..3] == "UTC" {
                    z_utc = true;
                    value = &value[3..];
                    continue;
                }
                let n = parse_tz_name(value).ok_or_else(bad)?;
                zone_name = Some(value[..n].to_string());
                value = &value[n..];
            }
            Std::Frac(ndigit, nines) => {
                let vb = value.as_bytes();
                if nines {
                    if vb.len() < 2 || !(vb[0] == b'.' || vb[0] == b',') || !vb[1].is_ascii_digit()
                    {
                        continue;
                    }
                    let mut i = 1;
                    while i < vb.len() && vb[i].is_ascii_digit() {
                        i += 1;
                    }
                    nsec = parse_nanos(&value[1..i]);
                    value = &value[i..];
                } else {
                    let n = 1 + ndigit;
                    if vb.len() < n
                        || !(vb[0] == b'.' || vb[0] == b',')
                        || !vb[1..n].iter().all(u8::is_ascii_digit)
                    {
                        return Err(bad());
                    }
                    nsec = parse_nanos(&value[1..n]);
                    value = &value[n..];
                }
            }
        }
    }
    if pm_set && hour < 12 {
        hour += 12;
    } else if am_set && hour == 12 {
        hour = 0;
    }
    if yday >= 0 {
        let leap = days_in(2, year) == 29;
        let mut d = yday;
        let mut m = 1;
        if d > if leap { 366 } else { 365 } {
            return Err(perr("", "", ": day-of-year out of range"));
        }
        while d > days_in(m, year) {
            d -= days_in(m, year);
            m += 1;
        }
        if month >= 0 && month != m {
            return Err(perr("", "", ": day-of-year does not match month"));
        }
        if day >= 0 && day != d {
            return Err(perr("", "", ": day-of-year does not match day"));
        }
        month = m;
        day = d;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    if day < 1 || day > days_in(month, year) {
        return Err(perr("", "", ": day out of range"));
    }
    let dt = jiff::civil::DateTime::new(
        year as i16,
        month as i8,
        day as i8,
        hour as i8,
        min as i8,
        sec as i8,
        nsec as i32,
    )
    .map_err(|e| e.to_string())?;
    let plain = |z: Result<Zoned, jiff::Error>| z.map(|z| (z, None)).map_err(|e| e.to_string());
    if z_utc {
        return plain(dt.to_zoned(TimeZone::UTC));
    }
    if let Some(o) = offset {
        let off = jiff::tz::Offset::from_seconds(o as i32).map_err(|e| e.to_string())?;
        let ts = dt
            .to_zoned(TimeZone::fixed(off))
            .map_err(|e| e.to_string())?
            .timestamp();
        // the location's zone when its offset matches, else a fixed zone
        let in_loc = ts.to_zoned(loc.clone());
        if in_loc.offset() == off
            && zone_name
                .as_deref()
                .is_none_or(|n| zone_abbrev(&in_loc) == n)
        {
            return Ok((in_loc, None));
        }
        return Ok((ts.to_zoned(TimeZone::fixed(off)), zone_name.map(Rc::from)));
    }
    if let Some(name) = zone_name {
        let z = dt.to_zoned(loc.clone()).map_err(|e| e.to_string())?;
        if zone_abbrev(&z) == name {
            return Ok((z, None));
        }
        let o = name
            .strip_prefix("GMT")
            .filter(|r| !r.is_empty())
            .and_then(|r| r.parse::<i32>().ok())
            .map(|h| h * 3600)
            .unwrap_or(0);
        // Go keeps the wall clock as UTC and only labels it with the made-up zone
        let off = jiff::tz::Offset::from_seconds(o).map_err(|e| e.to_string())?;
        let ts = dt
            .to_zoned(TimeZone::UTC)
            .map_err(|e| e.to_string())?
            .timestamp();
        return Ok((ts.to_zoned(TimeZone::fixed(off)), Some(Rc::from(name))));
    }
    plain(dt.to_zoned(loc.clone()))
}

fn parse_nanos(digits: &str) -> i64 {
    let mut n = 0i64;
    for (i, c) in digits.bytes().take(9).enumerate() {
        n += (c - b'0') as i64 * 10i64.pow(8 - i as u32);
    }
    n
}

/// Go's `parseTimeZone`: the length of a zone abbreviation at the start of `v`.
fn parse_tz_name(v: &str) -> Option<usize> {
    let b = v.as_bytes();
    if b.len() < 3 {
        return None;
    }
    if b.len() >= 4 && (&v[..4] == "ChST" || &v[..4] == "MeST") {
        return Some(4);
    }
    if &v[..3] == "GMT" {
        let mut n = 3;
        if b.len() > 3 && (b[3] == b'+' || b[3] == b'-') {
            let mut j = 4;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let num: i64 = v[4..j].parse().ok()?;
            if num > 24 || (b[3] == b'-' && num == 0) {
                return None;
            }
            n = j;
        }
        return Some(n);
    }
    let mut n = 0;
    while n < b.len() && b[n].is_ascii_uppercase() {
        n += 1;
    }
    match n {
        0..=2 | 6.. => None,
        5 if b[4] != b'T' => None,
        4 if !(b[3] == b'T' || &v[..4] == "WITA") => None,
        _ => Some(n),
    }
}

/// Go's zero `time.Time` (January 1, year 1, 00:00:00 UTC).
fn zero_time() -> Zoned {
    jiff::civil::date(1, 1, 1)
        .at(0, 0, 0, 0)
        .to_zoned(TimeZone::UTC)
        .unwrap_or_else(|_| Timestamp::UNIX_EPOCH.to_zoned(TimeZone::UTC))
}

/// Go's `time.Since(z)`: nanoseconds from `z` to now, saturating at the `int64` bounds.
fn since(z: &Zoned) -> i64 {
    let ns = Zoned::now().timestamp().as_nanosecond() - z.timestamp().as_nanosecond();
    i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
}

/// Go's `Time.Add`: `z` moved by `ns` nanoseconds (unchanged beyond the representable range).
fn add_nanos(z: &Zoned, ns: i64) -> Zoned {
    z.checked_add(jiff::SignedDuration::from_nanos(ns))
        .unwrap_or_else(|_| z.clone())
}

fn t(z: Zoned) -> Value {
    Value::Object(Rc::new(GoTime(z, None)))
}

pub(super) fn register(m: &mut FuncMap) {
    m.insert("now", |_, a| {
        nargs(a, "now", 0)?;
        Ok(t(Zoned::now().with_time_zone(local())))
    });
    m.insert("date", |_, a| {
        nargs(a, "date", 2)?;
        Ok(Value::from(format_go(&time_arg(&a[1]), a_str(&a[0])?)))
    });
    for n in ["dateInZone", "date_in_zone"] {
        m.insert(n, |_, a| {
            nargs(a, "dateInZone", 3)?;
            let z = time_arg(&a[1]).with_time_zone(tz_named(a_str(&a[2])?));
            Ok(Value::from(format_go(&z, a_str(&a[0])?)))
        });
    }
    m.insert("htmlDate", |_, a| {
        nargs(a, "htmlDate", 1)?;
        Ok(Value::from(format_go(&time_arg(&a[0]), "2006-01-02")))
    });
    m.insert("htmlDateInZone", |_, a| {
        nargs(a, "htmlDateInZone", 2)?;
        let z = time_arg(&a[0]).with_time_zone(tz_named(a_str(&a[1])?));
        Ok(Value::from(format_go(&z, "2006-01-02")))
    });
    m.insert("unixEpoch", |_, a| {
        nargs(a, "unixEpoch", 1)?;
        Ok(Value::from(
            time_arg(&a[0]).timestamp().as_second().to_string(),
        ))
    });
    // Sprig's dateModify: a duration that does not parse leaves the time as it is.
    for n in ["dateModify", "date_modify"] {
        m.insert(n, |_, a| {
            nargs(a, "dateModify", 2)?;
            let z = time_arg(&a[1]);
            Ok(t(match duration::parse(a_str(&a[0])?) {
                Ok(ns) => add_nanos(&z, ns),
                Err(_) => z,
            }))
        });
    }
    // mustDateModify fails with Go's `time.ParseDuration` error instead.
    for n in ["mustDateModify", "must_date_modify"] {
        m.insert(n, |_, a| {
            nargs(a, "mustDateModify", 2)?;
            let z = time_arg(&a[1]);
            let ns = duration::parse(a_str(&a[0])?).map_err(|e| FnErr::Call(e.to_string()))?;
            Ok(t(add_nanos(&z, ns)))
        });
    }
    m.insert("toDate", |_, a| {
        nargs(a, "toDate", 2)?;
        match parse_go(a_str(&a[0])?, a_str(&a[1])?, &local()) {
            Ok((z, name)) => Ok(Value::Object(Rc::new(GoTime(z, name)))),
            Err(_) => Ok(t(zero_time())),
        }
    });
    m.insert("mustToDate", |_, a| {
        nargs(a, "mustToDate", 2)?;
        parse_go(a_str(&a[0])?, a_str(&a[1])?, &local())
            .map(|(z, name)| Value::Object(Rc::new(GoTime(z, name))))
            .map_err(FnErr::Call)
    });
    m.insert("ago", |_, a| {
        nargs(a, "ago", 1)?;
        // time.Since(t).Round(time.Second)
        let ns = since(&time_arg(&a[0]));
        Ok(Value::from(duration::format(duration::round(
            ns,
            duration::SECOND,
        ))))
    });
    m.insert("duration", |_, a| {
        nargs(a, "duration", 1)?;
        // Sprig only converts strings (strconv.ParseInt: out of range clamps, malformed is 0)
        // and int64; Go ints and floats give 0. time.Duration(n) * time.Second wraps.
        let secs = match &a[0] {
            Value::Str(s) => match s.parse::<i64>() {
                Ok(n) => n,
                Err(e) => match e.kind() {
                    std::num::IntErrorKind::PosOverflow => i64::MAX,
                    std::num::IntErrorKind::NegOverflow => i64::MIN,
                    _ => 0,
                },
            },
            _ => 0,
        };
        Ok(Value::from(duration::format(
            secs.wrapping_mul(duration::SECOND),
        )))
    });
    m.insert("durationRound", |_, a| {
        min_args(a, "durationRound", 1)?;
        let ns: i64 = match &a[0] {
            Value::Str(s) => duration::parse(s).unwrap_or(0),
            Value::Object(o) if o.type_name() == "time.Time" => since(&time_arg(&a[0])),
            v => to_int64(v),
        };
        // Sprig's units: a year of 365 days, a month of 30; each only when exceeded.
        let u = ns.unsigned_abs();
        let units: [(u64, &str); 6] = [
            (365 * 24 * duration::HOUR as u64, "y"),
            (30 * 24 * duration::HOUR as u64, "mo"),
            (24 * duration::HOUR as u64, "d"),
            (duration::HOUR as u64, "h"),
            (duration::MINUTE as u64, "m"),
            (duration::SECOND as u64, "s"),
        ];
        let r = units.iter().find(|(per, _)| u > *per).map_or_else(
            || "0s".to_owned(),
            |(per, unit)| format!("{}{unit}", u / per),
        );
        Ok(Value::from(r))
    });
}

#[cfg(test)]
mod tests {
    use crate::value::Value;

    fn render(src: &str) -> String {
        crate::template::tests::render_with(src, Value::Nil).unwrap_or_else(|e| format!("ERR: {e}"))
    }

    // Every expectation is what helm v4.1.4 renders.
    #[test]
    fn sprig_durations() {
        for (src, want) in [
            (r#"{{ durationRound "1h" }}"#, "60m"),
            (r#"{{ durationRound "8761h" }}"#, "1y"),
            (r#"{{ durationRound "8700h" }}"#, "12mo"),
            (r#"{{ durationRound "-3h5m" }}"#, "3h"),
            (r#"{{ durationRound "1.5s" }}"#, "1s"),
            (r#"{{ durationRound (now | dateModify "-2h") }}"#, "2h"),
            (r#"{{ duration "99999999999" }}"#, "2157299h53m50.45224192s"),
            (r#"{{ duration "99999999999999999999" }}"#, "-1s"),
            (r#"{{ duration 90 }}"#, "0s"),
            (r#"{{ duration "3723" }}"#, "1h2m3s"),
            (r#"{{ duration "-1" }}"#, "-1s"),
            (
                r#"{{ dateModify "bad" (toDate "2006-01-02" "2020-01-01") | date "2006-01-02T15:04:05" }}"#,
                "2020-01-01T00:00:00",
            ),
            (
                r#"{{ dateModify "1.5h" (toDate "2006-01-02" "2020-01-01") | date "2006-01-02T15:04:05" }}"#,
                "2020-01-01T01:30:00",
            ),
            (r#"{{ ago (now | dateModify "-1.6s") }}"#, "2s"),
            (r#"{{ ago (now | dateModify "1.6s") }}"#, "-2s"),
        ] {
            assert_eq!(render(src), want, "{src}");
        }
        for (src, err) in [
            (
                r#"{{ mustDateModify "bad" now }}"#,
                r#"time: invalid duration "bad""#,
            ),
            (
                r#"{{ mustDateModify "1x" now }}"#,
                r#"time: unknown unit "x" in duration "1x""#,
            ),
        ] {
            let got = render(src);
            assert!(
                got.starts_with("ERR: ") && got.ends_with(err),
                "{src}: {got}"
            );
        }
    }
}
