//! Naming a run on the command line: its id or a unique prefix of it, a pin's name, or
//! `last` / `last~N` (the latest run, the N-th before it; of one pipeline when one is
//! given).

use super::pins::Pins;
use super::record::RunRecord;
use crate::error::{Error, Result};

/// The run `arg` names among `records` (log order); `of` restricts `last~N` to runs of one
/// pipeline (by path or name).
pub fn resolve<'a>(
    arg: &str,
    records: &'a [RunRecord],
    pins: &Pins,
    of: Option<&str>,
) -> Result<&'a RunRecord> {
    if let Some(rest) = arg.strip_prefix("last") {
        let back: usize = match rest.strip_prefix('~') {
            Some(n) => n.parse().map_err(|_| {
                Error::Usage(format!(
                    "`{arg}`: expected last~N with N a number, e.g. last~1"
                ))
            })?,
            None if rest.is_empty() => 0,
            None => return by_id(arg, records, pins),
        };
        let mine: Vec<&RunRecord> = records
            .iter()
            .filter(|r| of.is_none_or(|p| is_of(r, p)))
            .collect();
        return mine
            .len()
            .checked_sub(back + 1)
            .map(|i| mine[i])
            .ok_or_else(|| {
                Error::Usage(format!(
                    "`{arg}`: the log has {} run(s){}",
                    mine.len(),
                    of.map(|p| format!(" of {p}")).unwrap_or_default()
                ))
            });
    }
    by_id(arg, records, pins)
}

fn by_id<'a>(arg: &str, records: &'a [RunRecord], pins: &Pins) -> Result<&'a RunRecord> {
    let id = pins.by_name(arg).map_or(arg, |p| p.id.as_str());
    let hits: Vec<&RunRecord> = records.iter().filter(|r| r.id.starts_with(id)).collect();
    match hits.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::Usage(format!(
            "no run `{arg}` in the log (`qa-pipe runs` lists them; a run is named by its id, a unique prefix of it, a pin's name, or last, last~1, ...)"
        ))),
        many => Err(Error::Usage(format!(
            "`{arg}` names {} runs ({}); give more of the id",
            many.len(),
            many.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Whether `r` ran `pipeline`, given as a path (as recorded, or ending the same way) or a name.
pub fn is_of(r: &RunRecord, pipeline: &str) -> bool {
    let p = pipeline.trim_start_matches("./");
    r.pipeline == p
        || r.name == p
        || r.pipeline.ends_with(&format!("/{p}"))
        || p.ends_with(&format!("/{}", r.pipeline))
}
