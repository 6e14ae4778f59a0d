//! Virtual populations written as a `sweep` input: the patients of [`Design`] (drawn as
//! [`crate::variability`] describes), one row each.

use super::csv_line;
use crate::error::Error;
use crate::model::Model;
use crate::output::fmt_num;
use crate::par::{OrderedMap, Pool};
use crate::Result;
use std::io::Write;

pub use crate::variability::{Design, WEIGHT_CV};

/// Write `n` patients (`ID` 1..n, then [`Design::names`]) with `jobs` threads (0: one per core).
pub fn write_population(
    model: &Model,
    design: &Design,
    n: usize,
    seed: u64,
    jobs: usize,
    out: &mut dyn Write,
) -> Result<()> {
    let pool = Pool::new(jobs).map_err(|message| Error::Options {
        option: "--jobs".to_string(),
        message,
    })?;
    let names = design.names(model);
    let mut header = vec!["ID"];
    header.extend(names.iter().map(String::as_str));
    out.write_all(csv_line(header).as_bytes())?;
    let lines = OrderedMap::new(
        (0..n).map(Ok::<usize, std::convert::Infallible>),
        pool,
        8192,
        |i: usize| {
            let mut line = (i + 1).to_string();
            for v in design.patient(model, seed, i as u64) {
                line.push(',');
                line.push_str(&fmt_num(v));
            }
            line.push('\n');
            line
        },
    );
    for l in lines.flatten() {
        out.write_all(l.as_bytes())?;
    }
    Ok(())
}
