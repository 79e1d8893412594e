//! `report.json`: the Report model, pretty-printed.

use super::Report;

pub fn render(report: &Report) -> std::io::Result<Vec<u8>> {
    let mut v = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    v.push(b'\n');
    Ok(v)
}
