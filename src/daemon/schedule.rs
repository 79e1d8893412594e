//! The daemon's schedule: a cron expression read in an IANA time zone.
//!
//! Dialect: six fields with seconds, `sec min hour day-of-month month
//! day-of-week`, parsed by `croner` exactly as tokio-cron-scheduler parses
//! it (seconds required; when both day-of-month and day-of-week are
//! restricted, a day must match both). Names (`MON`, `JAN`), ranges, lists
//! and steps (`*/15`) work; `L` means the last day of the month.
//!
//! Times are wall-clock times in the configured zone, DST-correct: a time
//! that does not exist on the spring-forward day (02:30 in Europe/Berlin)
//! runs at the first valid time after the gap (03:00); a time that occurs
//! twice on the fall-back day runs once, at its first occurrence.

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// Parses a six-field cron expression (the dialect above). The message
/// names the expression.
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    let fields = expr.split_whitespace().count();
    if fields != 6 {
        return Err(format!(
            "schedule `{expr}` has {fields} field{}; expected 6 (sec min hour day-of-month month day-of-week), e.g. \"0 0 2 * * *\" for 02:00 every day",
            if fields == 1 { "" } else { "s" }
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expr)
        .map_err(|e| format!("schedule `{expr}` is not a valid cron expression: {e}"))
}

/// Parses an IANA time zone name (`Europe/Berlin`, `UTC`).
pub fn parse_tz(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        format!("unknown timezone `{name}` (expected an IANA name such as Europe/Berlin, America/New_York or UTC)")
    })
}

/// A parsed schedule in its zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub expr: String,
    pub tz: Tz,
    cron: Cron,
}

impl Schedule {
    pub fn new(expr: &str, tz: Tz) -> Result<Self, String> {
        Ok(Schedule {
            expr: expr.to_owned(),
            tz,
            cron: parse_cron(expr)?,
        })
    }

    /// The first fire time strictly after `t` (None if there is none, e.g.
    /// a date that never comes).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Whole seconds: croner carries the start's fraction into its result.
        let t = t.trunc_subsecs(0);
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The next `n` fire times after `t`.
    pub fn upcoming(&self, t: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut at = t;
        while out.len() < n {
            match self.next_after(at) {
                Some(next) => {
                    out.push(next);
                    at = next;
                }
                None => break,
            }
        }
        out
    }

    /// `2026-03-29 03:00:00 CEST` — a fire time as the zone shows it.
    pub fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn fmt(v: &[DateTime<Utc>]) -> Vec<String> {
        v.iter()
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .collect()
    }

    #[test]
    fn nightly_in_berlin_across_spring_forward() {
        let s = Schedule::new("0 0 9 * * *", parse_tz("Europe/Berlin").unwrap()).unwrap();
        // 09:00 local stays 09:00 local: 08:00Z in CET, 07:00Z in CEST.
        assert_eq!(
            fmt(&s.upcoming(utc("2026-03-27T12:00:00Z"), 4)),
            [
                "2026-03-28T08:00:00Z",
                "2026-03-29T07:00:00Z",
                "2026-03-30T07:00:00Z",
                "2026-03-31T07:00:00Z"
            ]
        );
    }

    #[test]
    fn a_time_in_the_spring_gap_runs_once_right_after_it() {
        let berlin = parse_tz("Europe/Berlin").unwrap();
        let s = Schedule::new("0 30 2 * * *", berlin).unwrap();
        // 2026-03-29 02:30 does not exist in Berlin (02:00 → 03:00).
        let v = s.upcoming(utc("2026-03-28T00:00:00Z"), 3);
        assert_eq!(
            fmt(&v),
            [
                "2026-03-28T01:30:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-30T00:30:00Z"
            ]
        );
        assert_eq!(s.local(v[1]), "2026-03-29 03:00:00 CEST");
        assert_eq!(s.local(v[2]), "2026-03-30 02:30:00 CEST");
    }

    #[test]
    fn a_time_in_the_autumn_overlap_runs_once() {
        let s = Schedule::new("0 30 2 * * *", parse_tz("Europe/Berlin").unwrap()).unwrap();
        // 2026-10-25 02:30 happens twice (CEST, then CET): it runs once.
        let v = s.upcoming(utc("2026-10-24T00:00:00Z"), 3);
        assert_eq!(
            fmt(&v),
            [
                "2026-10-24T00:30:00Z",
                "2026-10-25T00:30:00Z",
                "2026-10-26T01:30:00Z"
            ]
        );
        assert_eq!(s.local(v[1]), "2026-10-25 02:30:00 CEST");
        assert_eq!(s.local(v[2]), "2026-10-26 02:30:00 CET");
    }

    #[test]
    fn utc_and_steps_and_weekdays() {
        let s = Schedule::new("0 */15 * * * *", Tz::UTC).unwrap();
        assert_eq!(
            fmt(&s.upcoming(utc("2026-11-25T10:07:00Z"), 2)),
            ["2026-11-25T10:15:00Z", "2026-11-25T10:30:00Z"]
        );
        // Mondays at 06:00 in New York (2026-11-25 is a Wednesday).
        let s = Schedule::new("0 0 6 * * MON", parse_tz("America/New_York").unwrap()).unwrap();
        assert_eq!(
            fmt(&s.upcoming(utc("2026-11-25T00:00:00Z"), 1)),
            ["2026-11-30T11:00:00Z"]
        );
        // Strictly after: a fire time is not returned again.
        let s = Schedule::new("0 0 2 * * *", Tz::UTC).unwrap();
        assert_eq!(
            fmt(&s.upcoming(utc("2026-11-25T02:00:00Z"), 1)),
            ["2026-11-26T02:00:00Z"]
        );
        // Fractions of a second never leak into fire times.
        let next = s.next_after(utc("2026-11-25T01:59:59.75Z")).unwrap();
        assert_eq!(next, utc("2026-11-25T02:00:00Z"));
    }

    #[test]
    fn bad_expressions_and_zones_name_the_value() {
        let e = parse_cron("0 2 * * *").unwrap_err();
        assert!(e.contains("`0 2 * * *`") && e.contains("expected 6"), "{e}");
        let e = parse_cron("0 0 25 * * *").unwrap_err();
        assert!(e.contains("`0 0 25 * * *`"), "{e}");
        let e = parse_cron("every night").unwrap_err();
        assert!(e.contains("every night"), "{e}");
        let e = parse_tz("Europe/Berln").unwrap_err();
        assert!(e.contains("`Europe/Berln`"), "{e}");
        assert!(parse_tz("UTC").is_ok());
    }
}
