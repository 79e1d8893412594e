//! Geometry of report.html's SVG line charts: coordinates, axis ticks and
//! the figures a chart's text description needs. The markup itself is in
//! the templates (`templates/_chart.html.j2`); this module only places
//! points, so the template stays free of arithmetic.

use serde::Serialize;

use super::trend::TrendPoint;
use crate::checks::Severity;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;
/// Up to this many points, every point gets a marker.
const MARKERS_UP_TO: usize = 31;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tick {
    pub pos: String,
    pub label: String,
    /// `start`, `middle` or `end` (SVG `text-anchor`).
    pub anchor: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dot {
    pub x: String,
    pub y: String,
    /// `2026-11-25: 63`.
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// `score`, `critical`, `high`, ...
    pub key: &'static str,
    pub name: &'static str,
    /// SVG `stroke-dasharray` (`none` for solid), so series differ by more than colour.
    pub dash: &'static str,
    /// One `points` list per unbroken run of two or more values (a failed
    /// run breaks the line; a lone value is only a marker).
    pub segments: Vec<String>,
    pub dots: Vec<Dot>,
    pub first: Option<u32>,
    pub last: Option<u32>,
    pub min: Option<u32>,
    pub max: Option<u32>,
}

/// One chart, ready for the template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub x0: String,
    pub x1: String,
    pub y0: String,
    pub y1: String,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub series: Vec<Series>,
    /// Runs on the x axis (audited or not).
    pub runs: usize,
    /// Runs with a value.
    pub values: usize,
    pub from: String,
    pub to: String,
}

fn f(v: f64) -> String {
    format!("{v:.1}")
}

fn date(generated_at: &str) -> String {
    generated_at.get(..10).unwrap_or(generated_at).to_owned()
}

fn x_of(i: usize, n: usize) -> f64 {
    if n <= 1 {
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0
    } else {
        LEFT + (WIDTH - LEFT - RIGHT) * i as f64 / (n - 1) as f64
    }
}

fn y_of(v: f64, max: f64) -> f64 {
    HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * (v / max)
}

/// A round upper bound for the y axis: four ticks of 1, 2 or 5 × 10ⁿ.
fn nice_max(max: u32) -> u32 {
    let mut base = 1u64;
    loop {
        for s in [1, 2, 5] {
            let step = s * base;
            if 4 * step >= u64::from(max) {
                return u32::try_from(4 * step).unwrap_or(u32::MAX);
            }
        }
        base *= 10;
    }
}

fn series(
    key: &'static str,
    name: &'static str,
    dash: &'static str,
    points: &[TrendPoint],
    max: f64,
    value: impl Fn(&TrendPoint) -> Option<u32>,
) -> Series {
    let n = points.len();
    let mut segments = Vec::new();
    let mut dots = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let values: Vec<Option<u32>> = points.iter().map(&value).collect();
    for (i, (p, v)) in points.iter().zip(&values).enumerate() {
        let Some(v) = v else {
            flush(&mut segments, &mut current);
            continue;
        };
        let (x, y) = (f(x_of(i, n)), f(y_of(f64::from(*v), max)));
        current.push(format!("{x},{y}"));
        let isolated =
            (i == 0 || values[i - 1].is_none()) && values.get(i + 1).is_none_or(Option::is_none);
        if n <= MARKERS_UP_TO || isolated || i == n - 1 {
            dots.push(Dot {
                x,
                y,
                label: format!("{}: {v}", date(&p.generated_at)),
            });
        }
    }
    flush(&mut segments, &mut current);
    let present: Vec<u32> = values.iter().flatten().copied().collect();
    Series {
        key,
        name,
        dash,
        segments,
        dots,
        first: present.first().copied(),
        last: present.last().copied(),
        min: present.iter().min().copied(),
        max: present.iter().max().copied(),
    }
}

/// Ends a line segment. A lone point draws no line; its marker shows it.
fn flush(segments: &mut Vec<String>, current: &mut Vec<String>) {
    if current.len() > 1 {
        segments.push(current.join(" "));
    }
    current.clear();
}

fn frame(points: &[TrendPoint], max: u32, series: Vec<Series>) -> Chart {
    let n = points.len();
    let step = max / 4;
    let y_ticks = (0..=4)
        .map(|k| Tick {
            pos: f(y_of(f64::from(k * step), f64::from(max))),
            label: (k * step).to_string(),
            anchor: "end",
        })
        .collect();
    let mut x_ticks = Vec::new();
    if let Some(first) = points.first() {
        x_ticks.push(Tick {
            pos: f(x_of(0, n)),
            label: date(&first.generated_at),
            anchor: if n == 1 { "middle" } else { "start" },
        });
    }
    if n > 1 {
        x_ticks.push(Tick {
            pos: f(x_of(n - 1, n)),
            label: date(&points[n - 1].generated_at),
            anchor: "end",
        });
    }
    Chart {
        width: WIDTH,
        height: HEIGHT,
        x0: f(LEFT),
        x1: f(WIDTH - RIGHT),
        y0: f(HEIGHT - BOTTOM),
        y1: f(TOP),
        y_ticks,
        x_ticks,
        values: points.iter().filter(|p| p.score.is_some()).count(),
        runs: n,
        from: points
            .first()
            .map(|p| date(&p.generated_at))
            .unwrap_or_default(),
        to: points
            .last()
            .map(|p| date(&p.generated_at))
            .unwrap_or_default(),
        series,
    }
}

/// The risk score (0–100) per run.
pub fn score(points: &[TrendPoint]) -> Chart {
    let s = series("score", "Risk score", "none", points, 100.0, |p| {
        p.score.map(u32::from)
    });
    frame(points, 100, vec![s])
}

/// Unsuppressed findings per severity per run.
pub fn severities(points: &[TrendPoint]) -> Chart {
    let top = points
        .iter()
        .filter_map(|p| p.counts.as_ref())
        .flat_map(|c| [c.critical, c.high, c.medium, c.low, c.info])
        .max()
        .unwrap_or(0);
    let max = nice_max(u32::try_from(top).unwrap_or(u32::MAX));
    let all = Severity::ALL_DESC
        .iter()
        .map(|&sev| {
            let (name, dash) = match sev {
                Severity::Critical => ("Critical", "none"),
                Severity::High => ("High", "8 4"),
                Severity::Medium => ("Medium", "3 3"),
                Severity::Low => ("Low", "10 3 2 3"),
                Severity::Info => ("Info", "1 3"),
            };
            series(sev.as_str(), name, dash, points, f64::from(max), |p| {
                p.counts.as_ref().map(|c| {
                    u32::try_from(match sev {
                        Severity::Critical => c.critical,
                        Severity::High => c.high,
                        Severity::Medium => c.medium,
                        Severity::Low => c.low,
                        Severity::Info => c.info,
                    })
                    .unwrap_or(u32::MAX)
                })
            })
        })
        .collect();
    frame(points, max, all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::SeverityCounts;

    fn p(day: u32, score: Option<u8>) -> TrendPoint {
        TrendPoint {
            run_id: format!("202611{day:02}T020000Z"),
            generated_at: format!("2026-11-{day:02}T02:00:00Z"),
            score,
            counts: score.map(|s| SeverityCounts {
                high: usize::from(s / 10),
                ..SeverityCounts::default()
            }),
        }
    }

    #[test]
    fn a_failed_run_breaks_the_line_and_isolated_points_get_markers() {
        let pts: Vec<TrendPoint> = (1..=40)
            .map(|d| p(d, (d != 20).then_some(u8::try_from(d).unwrap())))
            .collect();
        let c = score(&pts);
        let s = &c.series[0];
        assert_eq!(s.segments.len(), 2);
        assert_eq!(s.segments[0].split(' ').count(), 19);
        assert_eq!(s.segments[1].split(' ').count(), 20);
        // More than 31 points: only the last one is marked.
        assert_eq!(s.dots.len(), 1);
        assert_eq!(s.dots[0].label, "2026-11-40: 40");
        assert_eq!(
            (s.first, s.last, s.min, s.max),
            (Some(1), Some(40), Some(1), Some(40))
        );
        assert_eq!(c.x0, "40.0");
        assert_eq!(c.x1, "628.0");
        // Score 40 of 100 sits at 40 % of the plot height above the axis.
        let last = s.segments[1].rsplit(' ').next().unwrap();
        assert_eq!(last, "628.0,96.4");
    }

    #[test]
    fn one_point_is_centred_and_marked_and_no_points_draw_nothing() {
        let c = score(&[p(25, Some(63))]);
        assert!(c.series[0].segments.is_empty());
        assert_eq!(c.series[0].dots.len(), 1);
        assert_eq!(c.series[0].dots[0].x, "334.0");
        assert_eq!(c.x_ticks.len(), 1);
        assert_eq!(c.x_ticks[0].anchor, "middle");
        let e = severities(&[]);
        assert!(
            e.series
                .iter()
                .all(|s| s.segments.is_empty() && s.dots.is_empty())
        );
        assert_eq!(e.y_ticks.last().unwrap().label, "4");
        let only_failed = score(&[p(25, None)]);
        assert_eq!(only_failed.values, 0);
        assert!(only_failed.series[0].segments.is_empty());
    }

    #[test]
    fn the_count_axis_is_rounded_up() {
        assert_eq!(nice_max(0), 4);
        assert_eq!(nice_max(7), 8);
        assert_eq!(nice_max(20), 20);
        assert_eq!(nice_max(23), 40);
        assert_eq!(nice_max(101), 200);
        assert_eq!(nice_max(1234), 2000);
    }
}
