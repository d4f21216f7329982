//! Date functions with Go's reference-time layouts.

use std::rc::Rc;

use jiff::{Timestamp, Zoned, tz::TimeZone};

use super::{a_str, min_args, nargs, to_int64};
use crate::template::{FnErr, FuncMap};
use crate::value::{Object, Value};

/// A Go `time.Time`.
pub struct GoTime(pub Zoned);

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
            "Unix" => Value::Int(z.timestamp().as_second()),
            "UnixNano" => Value::Int(z.timestamp().as_nanosecond() as i64),
            "UTC" => Value::Object(Rc::new(GoTime(z.with_time_zone(TimeZone::UTC)))),
            "String" => Value::from(self.display()),
            _ => return None,
        })
    }
    fn has_method(&self, name: &str) -> bool {
        name == "Format"
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if name != "Format" {
            return None;
        }
        match args.first() {
            Some(Value::Str(l)) => Some(Ok(Value::from(format_go(&self.0, l)))),
            _ => Some(Err("wrong type for value; expected string".into())),
        }
    }
    fn display(&self) -> String {
        format_go(&self.0, "2006-01-02 15:04:05.999999999 -0700 MST")
    }
    fn to_data(&self) -> Value {
        Value::from(format_go(&self.0, "2006-01-02T15:04:05.999999999Z07:00"))
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
    let info = z.time_zone().to_offset_info(z.timestamp());
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
            out.push_str(&zone_abbrev(z));
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
            let secs = o.field("UnixNano").map(|v| to_int64(&v)).unwrap_or(0);
            Timestamp::from_nanosecond(secs as i128)
                .unwrap_or(Timestamp::UNIX_EPOCH)
                .to_zoned(local())
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

/// Parses Go's duration syntax ("1h30m", "-5s").
fn parse_go_duration(s: &str) -> Option<i128> {
    let (neg, mut t) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if t == "0" {
        return Some(0);
    }
    if t.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !t.is_empty() {
        let n = t
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        if n == 0 {
            return None;
        }
        let v: f64 = t[..n].parse().ok()?;
        t = &t[n..];
        let u = t
            .bytes()
            .take_while(|c| c.is_ascii_alphabetic() || *c == 0xc2 || *c == 0xb5)
            .count();
        let unit = &t[..u];
        t = &t[u..];
        let mul = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += v * mul;
    }
    Some(if neg { -(total as i128) } else { total as i128 })
}

/// Go's `time.Duration.String()`.
pub fn duration_string(ns: i128) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut s = String::new();
    if u < 1_000_000_000 {
        let (v, unit) = if u < 1000 {
            (u as f64, "ns")
        } else if u < 1_000_000 {
            (u as f64 / 1e3, "µs")
        } else {
            (u as f64 / 1e6, "ms")
        };
        s = format!("{}{unit}", crate::value::format_float_g(v));
    } else {
        let h = u / 3_600_000_000_000;
        let m = (u / 60_000_000_000) % 60;
        let sec = (u % 60_000_000_000) as f64 / 1e9;
        if h > 0 {
            s.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            s.push_str(&format!("{m}m"));
        }
        let mut secs = format!("{sec:.9}");
        secs = secs.trim_end_matches('0').trim_end_matches('.').to_string();
        s.push_str(&secs);
        s.push('s');
    }
    if neg { format!("-{s}") } else { s }
}

fn to_date(layout: &str, value: &str) -> Option<Zoned> {
    // common layouts only: build a strptime-like mapping from the Go layout
    let mut fmt = String::new();
    let mut i = 0;
    while i < layout.len() {
        let r = &layout[i..];
        let pairs = [
            ("2006", "%Y"),
            ("01", "%m"),
            ("02", "%d"),
            ("15", "%H"),
            ("04", "%M"),
            ("05", "%S"),
            ("Z07:00", "%:z"),
            ("-07:00", "%:z"),
            ("-0700", "%z"),
            ("MST", "%Z"),
            ("Jan", "%b"),
            ("Mon", "%a"),
        ];
        if let Some((g, p)) = pairs.iter().find(|(g, _)| r.starts_with(g)) {
            fmt.push_str(p);
            i += g.len();
        } else {
            let c = r.chars().next()?;
            if c == '%' {
                fmt.push_str("%%");
            } else {
                fmt.push(c);
            }
            i += c.len_utf8();
        }
    }
    let v = value.replace('Z', "+00:00");
    if let Ok(z) = jiff::fmt::strtime::parse(&fmt, &v).and_then(|t| t.to_zoned()) {
        return Some(z);
    }
    if let Ok(dt) = jiff::fmt::strtime::parse(&fmt, value).and_then(|t| t.to_datetime()) {
        return dt.to_zoned(local()).ok();
    }
    if let Ok(d) = jiff::fmt::strtime::parse(&fmt, value).and_then(|t| t.to_date()) {
        return d.to_zoned(local()).ok();
    }
    None
}

fn t(z: Zoned) -> Value {
    Value::Object(Rc::new(GoTime(z)))
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
    for n in [
        "dateModify",
        "date_modify",
        "mustDateModify",
        "must_date_modify",
    ] {
        m.insert(n, |_, a| {
            nargs(a, "dateModify", 2)?;
            let z = time_arg(&a[1]);
            match parse_go_duration(a_str(&a[0])?) {
                Some(ns) => {
                    let span = jiff::SignedDuration::from_nanos(ns as i64);
                    Ok(t(z.checked_add(span).unwrap_or(z)))
                }
                None => Ok(t(z)),
            }
        });
    }
    for n in ["toDate", "mustToDate"] {
        m.insert(n, |_, a| {
            nargs(a, "toDate", 2)?;
            match to_date(a_str(&a[0])?, a_str(&a[1])?) {
                Some(z) => Ok(t(z)),
                None => Ok(t(Timestamp::UNIX_EPOCH.to_zoned(TimeZone::UTC))),
            }
        });
    }
    m.insert("ago", |_, a| {
        nargs(a, "ago", 1)?;
        let z = time_arg(&a[0]);
        let ns = Zoned::now().timestamp().as_nanosecond() - z.timestamp().as_nanosecond();
        Ok(Value::from(duration_string(
            ns / 1_000_000_000 * 1_000_000_000,
        )))
    });
    m.insert("duration", |_, a| {
        nargs(a, "duration", 1)?;
        // Sprig only converts strings and int64; Go ints and floats give 0
        let secs = match &a[0] {
            Value::Str(s) => s.parse::<i64>().unwrap_or(0),
            _ => 0,
        };
        Ok(Value::from(duration_string(secs as i128 * 1_000_000_000)))
    });
    m.insert("durationRound", |_, a| {
        min_args(a, "durationRound", 1)?;
        let ns: i128 = match &a[0] {
            Value::Str(s) => parse_go_duration(s).unwrap_or(0),
            v => to_int64(v) as i128,
        };
        let u = ns.unsigned_abs() as f64 / 1e9;
        let r = if u >= 31_104_000.0 {
            format!("{}y", (u / 31_104_000.0) as i64)
        } else if u >= 2_592_000.0 {
            format!("{}mo", (u / 2_592_000.0) as i64)
        } else if u >= 86_400.0 {
            format!("{}d", (u / 86_400.0) as i64)
        } else if u >= 3600.0 {
            format!("{}h", (u / 3600.0) as i64)
        } else if u >= 60.0 {
            format!("{}m", (u / 60.0) as i64)
        } else if u >= 1.0 {
            format!("{}s", u as i64)
        } else {
            "0s".into()
        };
        Ok(Value::from(r))
    });
    let _ = FnErr::Call(String::new());
}
