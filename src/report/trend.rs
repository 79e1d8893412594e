//! Trends for report.html: each account's risk score and findings per
//! severity over its last [`TREND_RUNS`] runs, and the quality rating,
//! messaging limit and status of each of its phone numbers over time.
//!
//! Read from `reports/history.jsonl` (one line per run) plus the run being
//! written, which is not in the history yet. History lines carry each
//! audited account's per-number state; for lines written before they did,
//! the state is read from that run's `report.json` while its folder is
//! still kept.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::history::{self, HistoryLine};
use super::{AccountStatus, Report};
use crate::checks::SeverityCounts;
use crate::snapshot::NumberState;

/// How many runs (the current one included) the trend charts cover.
pub const TREND_RUNS: usize = 90;

/// One run of one account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    pub run_id: String,
    pub generated_at: String,
    /// `None` when the account could not be audited in that run.
    pub score: Option<u8>,
    pub counts: Option<SeverityCounts>,
}

/// One phone number's state in one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumberChange {
    pub run_id: String,
    pub generated_at: String,
    pub quality_rating: Option<String>,
    pub messaging_limit: Option<String>,
    pub status: Option<String>,
}

/// One phone number over time: its state whenever it changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumberTimeline {
    pub id: String,
    /// The display number as the report holds it (masked unless configured
    /// otherwise), else the phone number id.
    pub label: String,
    /// The first run in the window and every run whose state differs from
    /// the one before, oldest first.
    pub changes: Vec<NumberChange>,
    /// Runs in the window in which the number was reported.
    pub runs_seen: usize,
    /// Reported in the current run.
    pub current: bool,
}

/// One account's trend.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AccountTrend {
    /// Oldest first; the last is the current run.
    pub points: Vec<TrendPoint>,
    pub numbers: Vec<NumberTimeline>,
}

/// Trends per account name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trends {
    pub accounts: BTreeMap<String, AccountTrend>,
}

impl Trends {
    pub fn get(&self, account: &str) -> Option<&AccountTrend> {
        self.accounts.get(account)
    }
}

/// The trends of every account of `report` (the run being written) from the
/// history under `reports_dir`. A missing or damaged history gives shorter
/// trends, never an error.
pub fn load(reports_dir: &Path, report: &Report) -> Trends {
    let mut lines: Vec<HistoryLine> = history::read(reports_dir)
        .into_iter()
        .filter(|l| l.run_id != report.run_id)
        .collect();
    let keep = TREND_RUNS - 1;
    if lines.len() > keep {
        lines.drain(..lines.len() - keep);
    }
    lines.push(HistoryLine::of(report));
    let last = lines.len() - 1;
    // Lines written before history carried per-number state: read it from
    // the run's report.json (one read per run, only when needed).
    let fallback: Vec<Option<BTreeMap<String, Vec<NumberState>>>> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let old = i != last
                && l.accounts
                    .iter()
                    .any(|a| a.status == AccountStatus::Audited && a.numbers.is_none());
            old.then(|| {
                super::previous::numbers_from(&reports_dir.join(&l.run_id).join("report.json"))
            })
        })
        .collect();
    let mut out = Trends::default();
    for a in &report.accounts {
        out.accounts
            .insert(a.name.clone(), account_trend(&a.name, &lines, &fallback));
    }
    out
}

/// One account's trend from history lines (oldest first, the last being the
/// current run) and, per line, per-number state read from older reports.
pub fn account_trend(
    name: &str,
    lines: &[HistoryLine],
    fallback: &[Option<BTreeMap<String, Vec<NumberState>>>],
) -> AccountTrend {
    let mut points = Vec::new();
    let mut numbers: Vec<NumberTimeline> = Vec::new();
    let last_run = lines.last().map(|l| l.run_id.as_str());
    for (i, line) in lines.iter().enumerate() {
        let Some(a) = line.accounts.iter().find(|a| a.name == name) else {
            continue;
        };
        points.push(TrendPoint {
            run_id: line.run_id.clone(),
            generated_at: line.generated_at.clone(),
            score: a.score,
            counts: a.counts,
        });
        if a.status != AccountStatus::Audited {
            continue;
        }
        let states: &[NumberState] = match &a.numbers {
            Some(n) => n,
            None => fallback
                .get(i)
                .and_then(Option::as_ref)
                .and_then(|m| m.get(name))
                .map_or(&[], Vec::as_slice),
        };
        for n in states {
            let change = NumberChange {
                run_id: line.run_id.clone(),
                generated_at: line.generated_at.clone(),
                quality_rating: n.quality_rating.clone(),
                messaging_limit: n.messaging_limit.clone(),
                status: n.status.clone(),
            };
            let label = n.display.clone().unwrap_or_else(|| n.id.clone());
            let current = Some(line.run_id.as_str()) == last_run;
            match numbers.iter_mut().find(|t| t.id == n.id) {
                Some(t) => {
                    t.label = label;
                    t.runs_seen += 1;
                    t.current = current;
                    let prev = t.changes.last();
                    let same = prev.is_some_and(|p| {
                        p.quality_rating == change.quality_rating
                            && p.messaging_limit == change.messaging_limit
                            && p.status == change.status
                    });
                    if !same {
                        t.changes.push(change);
                    }
                }
                None => numbers.push(NumberTimeline {
                    id: n.id.clone(),
                    label,
                    changes: vec![change],
                    runs_seen: 1,
                    current,
                }),
            }
        }
    }
    // Numbers of the current run first, in the report's order.
    numbers.sort_by_key(|t| !t.current);
    AccountTrend { points, numbers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::history::HistoryAccount;
    use crate::risk::{Level, Stage};

    fn num(id: &str, q: &str, tier: &str) -> NumberState {
        NumberState {
            id: id.into(),
            display: Some("+1 ••• ••• 0134".into()),
            quality_rating: Some(q.into()),
            status: Some("CONNECTED".into()),
            messaging_limit: Some(tier.into()),
        }
    }

    fn line(run: &str, score: Option<u8>, numbers: Option<Vec<NumberState>>) -> HistoryLine {
        HistoryLine {
            run_id: run.into(),
            generated_at: format!("{}-{}-{}T02:00:00Z", &run[..4], &run[4..6], &run[6..8]),
            accounts: vec![HistoryAccount {
                name: "a".into(),
                status: if score.is_some() {
                    AccountStatus::Audited
                } else {
                    AccountStatus::Failed
                },
                score,
                level: score.map(|_| Level::Medium),
                stage: score.map(|_| Stage::None),
                counts: score.map(|_| SeverityCounts::default()),
                suppressed: None,
                new: None,
                resolved: None,
                numbers,
            }],
        }
    }

    #[test]
    fn number_timeline_keeps_only_changes_and_reads_old_runs_from_their_reports() {
        let lines = vec![
            // Written before history carried numbers: from the report.json.
            line("20261120T020000Z", Some(30), None),
            line(
                "20261121T020000Z",
                Some(31),
                Some(vec![num("1", "GREEN", "TIER_10K")]),
            ),
            line("20261122T020000Z", None, None),
            line(
                "20261123T020000Z",
                Some(50),
                Some(vec![num("1", "YELLOW", "TIER_10K")]),
            ),
            line(
                "20261124T020000Z",
                Some(52),
                Some(vec![num("1", "YELLOW", "TIER_10K")]),
            ),
            line(
                "20261125T020000Z",
                Some(60),
                Some(vec![num("1", "YELLOW", "TIER_2K")]),
            ),
        ];
        let mut old = BTreeMap::new();
        old.insert("a".to_owned(), vec![num("1", "GREEN", "TIER_10K")]);
        let fallback = vec![Some(old), None, None, None, None, None];
        let t = account_trend("a", &lines, &fallback);
        assert_eq!(t.points.len(), 6);
        assert_eq!(t.points[2].score, None);
        assert_eq!(t.points[5].score, Some(60));
        assert_eq!(t.numbers.len(), 1);
        let n = &t.numbers[0];
        assert_eq!(n.label, "+1 ••• ••• 0134");
        assert_eq!(n.runs_seen, 5);
        assert!(n.current);
        let seen: Vec<(&str, &str, &str)> = n
            .changes
            .iter()
            .map(|c| {
                (
                    &c.run_id[..8],
                    c.quality_rating.as_deref().unwrap(),
                    c.messaging_limit.as_deref().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("20261120", "GREEN", "TIER_10K"),
                ("20261123", "YELLOW", "TIER_10K"),
                ("20261125", "YELLOW", "TIER_2K"),
            ]
        );
        // An account never seen has an empty trend.
        assert_eq!(
            account_trend("zz", &lines, &fallback),
            AccountTrend::default()
        );
    }
}
