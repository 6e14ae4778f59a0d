//! Scenario grids: every combination of a few inputs (`--vary NAME=V1,V2,...`), the first varying
//! slowest, run as a sweep whose output carries the varied columns after `ID`.

use super::{Columns, Outcome, Row};
use crate::error::Error;
use crate::model::Model;
use crate::regimen::Inputs;
use crate::Result;

fn vary_err(message: String) -> Error {
    Error::Options {
        option: "--vary".to_string(),
        message,
    }
}

/// One varied input and its values (as text, validated per scenario like a sweep cell).
#[derive(Debug, Clone, PartialEq)]
pub struct Vary {
    pub name: String,
    pub values: Vec<String>,
}

impl Vary {
    /// Parse `NAME=V1,V2,...`; NAME must be an input of the model. Values are separated by `,`
    /// (a `schedule` value uses `;` between its entries: `schedule=0:1,0:0.5;1:0.5`).
    pub fn parse(model: &Model, text: &str) -> crate::Result<Vary> {
        let (name, values) = text
            .split_once('=')
            .ok_or_else(|| vary_err(format!("--vary `{text}`: expected NAME=V1,V2,...")))?;
        let name = name.trim().to_string();
        if !Inputs::accepts(model, &name) {
            return Err(vary_err(format!(
                "--vary `{text}`: `{name}` is not a parameter, `<state>_0` or regimen input of model `{}` (see `cartox describe {}`)",
                model.name,
                model.name
            )));
        }
        let values: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(vary_err(format!("--vary `{text}`: no values")));
        }
        Ok(Vary { name, values })
    }
}

/// The grid's columns: the varied names are inputs and are also carried into the output.
pub fn columns(varies: &[Vary]) -> crate::Result<Columns> {
    for (i, v) in varies.iter().enumerate() {
        if varies[..i].iter().any(|w| w.name == v.name) {
            return Err(vary_err(format!("--vary `{}` is given twice", v.name)));
        }
    }
    let named: Vec<(usize, String)> = varies
        .iter()
        .enumerate()
        .map(|(i, v)| (i, v.name.clone()))
        .collect();
    Ok(Columns {
        width: varies.len(),
        id: None,
        inputs: named.clone(),
        extras: named,
    })
}

/// Number of scenarios.
pub fn size(varies: &[Vary]) -> usize {
    varies.iter().map(|v| v.values.len()).product()
}

/// Scenario `index` of the grid (first vary slowest).
pub fn scenario(varies: &[Vary], mut index: usize) -> Vec<String> {
    let mut cells = vec![String::new(); varies.len()];
    for (slot, v) in cells.iter_mut().zip(varies).rev() {
        let n = v.values.len();
        *slot = v.values[index % n].clone();
        index /= n;
    }
    cells
}

/// All scenarios as sweep rows, in grid order.
pub fn rows(varies: &[Vary]) -> impl Iterator<Item = Result<Row>> + '_ {
    (0..size(varies)).map(move |index| {
        Ok(Row {
            index,
            cells: scenario(varies, index),
        })
    })
}

/// The key outcome columns shown in the terminal table.
pub const KEY_METRICS: &[&str] = &[
    "cart_cmax",
    "cart_tmax",
    "tumor_end",
    "crs_grade",
    "icans_grade",
];

fn short(cell: &str) -> String {
    match cell.parse::<f64>() {
        Ok(0.0) => "0".into(),
        Ok(x) if (0.01..1e5).contains(&x.abs()) => {
            let s = format!("{x:.3}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        Ok(x) => format!("{x:.3e}"),
        Err(_) => cell.to_string(),
    }
}

/// A compact aligned table: scenario number, varied values, key outcomes present in `names`, and
/// the error message of failed scenarios.
pub fn table(varies: &[Vary], names: &[&str], outcomes: &[Outcome]) -> String {
    let keys: Vec<(usize, &str)> = KEY_METRICS
        .iter()
        .filter_map(|k| names.iter().position(|n| n == k).map(|i| (i, *k)))
        .collect();
    let mut header: Vec<String> = vec!["#".into()];
    header.extend(varies.iter().map(|v| v.name.clone()));
    header.extend(keys.iter().map(|(_, k)| k.to_string()));
    let mut rows: Vec<Vec<String>> = vec![];
    for o in outcomes {
        let mut r = vec![o.id.clone()];
        r.extend(o.extras.iter().cloned());
        if o.ok {
            r.extend(keys.iter().map(|(i, _)| {
                let c = &o.metrics[*i];
                if c.is_empty() {
                    "-".to_string()
                } else {
                    short(c)
                }
            }));
        } else {
            r.push(format!("error: {}", o.message));
        }
        rows.push(r);
    }
    let mut width = vec![0usize; header.len()];
    for r in std::iter::once(&header).chain(&rows) {
        for (w, c) in width
            .iter_mut()
            .zip(r)
            .filter(|(_, c)| !c.starts_with("error: "))
        {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut text = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (j, c) in r.iter().enumerate() {
            if j > 0 {
                line.push_str("  ");
            }
            let w = width.get(j).copied().unwrap_or(0);
            if c.starts_with("error: ") {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:>w$}"));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}
