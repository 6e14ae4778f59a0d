//! Patient data in the NONMEM / mrgsolve convention: one row per observation or dose record.
//!
//! | column | meaning |
//! |---|---|
//! | `ID` | patient (any text; patients keep the order of their first row) |
//! | `TIME` | days after the first infusion (>= 0) |
//! | `DV` | the observed value, in the unit of the observed quantity |
//! | `OBS` or `CMT` | what was observed: a state or observable of the model by name (`CMT` may also be a 1-based state number) |
//! | `EVID` | 0 observation (default), 1 dose record |
//! | `AMT` | dose record: CAR-T cells infused at `TIME` (a row with `AMT` > 0 and no `EVID` is a dose) |
//! | `MDV` | 1: no observation in this row (it still carries covariates) |
//! | `BLQ` | 1: below the limit of quantification, censored (M3); the limit is `LLOQ`, else `DV` |
//! | `LLOQ` | lower limit of quantification; a `DV` below it is censored too |
//! | other | model inputs, constant per patient: `weight`, `tumor_burden`, `ld`, `bridging`, any parameter, `<state>_0` |
//!
//! Data-item names (`ID` ... `LLOQ`) are matched without regard to case; model inputs by their
//! exact name. Dose records define the patient's regimen: the total of `AMT` is the dose, several
//! dose times make a split infusion. Every problem is an [`Error::Data`] naming file, row (the
//! first data row is 1) and column.

use crate::error::{Error, Result};
use crate::model::{Model, Quantity};
use crate::regimen::Inputs;
use std::io::Read;

/// One observation of a patient.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Days after the first infusion.
    pub time: f64,
    /// The observed quantity.
    pub quantity: Quantity,
    /// Index into [`Dataset::obs_names`].
    pub obs: usize,
    /// The observed value; for a censored observation, the limit of quantification.
    pub value: f64,
    /// Below the limit of quantification: the likelihood is P(Y < value) (M3).
    pub censored: bool,
    /// Data row (1-based, the header is row 0).
    pub row: u64,
}

/// One patient: inputs (covariates and regimen from dose records) and observations.
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    /// The `ID` as written.
    pub id: String,
    /// Model inputs from covariate columns and dose records (unset inputs keep the model's
    /// defaults).
    pub inputs: Inputs,
    /// Dose records (day, cells), in time order.
    pub doses: Vec<(f64, f64)>,
    /// Observations in file order.
    pub observations: Vec<Observation>,
}

impl Patient {
    /// The last observation time, days.
    pub fn last_time(&self) -> f64 {
        self.observations.iter().map(|o| o.time).fold(0.0, f64::max)
    }
}

/// A data file: the observed quantities (in order of first appearance) and the patients.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The file's name, for messages.
    pub file: String,
    /// Names of the observed quantities, as the model spells them.
    pub obs_names: Vec<String>,
    /// Patients in order of their first row.
    pub patients: Vec<Patient>,
}

/// The data items, upper case.
const ITEMS: &[&str] = &[
    "ID", "TIME", "DV", "OBS", "CMT", "EVID", "AMT", "MDV", "BLQ", "LLOQ",
];

#[derive(Default)]
struct Columns {
    id: Option<usize>,
    time: Option<usize>,
    dv: Option<usize>,
    obs: Option<usize>,
    evid: Option<usize>,
    amt: Option<usize>,
    mdv: Option<usize>,
    blq: Option<usize>,
    lloq: Option<usize>,
    /// (column index, input name)
    inputs: Vec<(usize, String)>,
}

/// Read a data file (`file` names it in errors) for `model`.
pub fn read_data(model: &Model, reader: impl Read, file: &str) -> Result<Dataset> {
    let data_err = |row: Option<u64>, column: Option<&str>, message: String| Error::Data {
        file: file.to_string(),
        row,
        column: column.map(str::to_string),
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(reader);
    let header = rdr
        .headers()
        .map_err(|e| Error::csv("cannot read", file, &e))?
        .clone();
    let mut cols = Columns::default();
    let mut names = Vec::new();
    for (j, h) in header.iter().enumerate() {
        if names.contains(&h) {
            return Err(data_err(
                Some(0),
                Some(h),
                format!("column `{h}` appears twice"),
            ));
        }
        names.push(h);
        let slot = match h.to_ascii_uppercase().as_str() {
            "ID" => &mut cols.id,
            "TIME" => &mut cols.time,
            "DV" => &mut cols.dv,
            "OBS" | "CMT" => &mut cols.obs,
            "EVID" => &mut cols.evid,
            "AMT" => &mut cols.amt,
            "MDV" => &mut cols.mdv,
            "BLQ" => &mut cols.blq,
            "LLOQ" => &mut cols.lloq,
            _ => {
                if Inputs::accepts(model, h) {
                    cols.inputs.push((j, h.to_string()));
                    continue;
                }
                return Err(data_err(
                    Some(0),
                    Some(h),
                    format!(
                        "unknown column `{h}`: not a data item ({}) nor an input of model `{}` (a parameter, `<state>_0`, weight, tumor_burden, ld, bridging)",
                        ITEMS.join(", "),
                        model.name
                    ),
                ));
            }
        };
        if slot.is_some() {
            return Err(data_err(
                Some(0),
                Some(h),
                "both `OBS` and `CMT` name the observed quantity; keep one".into(),
            ));
        }
        *slot = Some(j);
    }
    for (c, name) in [
        (cols.id, "ID"),
        (cols.time, "TIME"),
        (cols.dv, "DV"),
        (cols.obs, "OBS"),
    ] {
        if c.is_none() {
            let what = if name == "OBS" {
                "`OBS` (or `CMT`)"
            } else {
                &format!("`{name}`")
            };
            return Err(data_err(Some(0), None, format!("missing column {what}")));
        }
    }
    let mut ds = Dataset {
        file: file.to_string(),
        obs_names: vec![],
        patients: vec![],
    };
    // per patient: the row that set each covariate, to report conflicts
    let mut set_by: Vec<Vec<(String, String)>> = vec![];
    for (k, rec) in rdr.records().enumerate() {
        let row = k as u64 + 1;
        let rec = rec.map_err(|e| Error::csv("cannot read", file, &e))?;
        let cell = |c: Option<usize>| c.and_then(|j| rec.get(j)).unwrap_or("");
        let col = |c: Option<usize>| c.map(|j| &header[j]);
        let number = |c: Option<usize>| -> Result<Option<f64>> {
            let t = cell(c);
            if t.is_empty() || t == "." {
                return Ok(None);
            }
            match t.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(data_err(
                    Some(row),
                    col(c),
                    format!("`{t}` is not a finite number"),
                )),
            }
        };
        let flag = |c: Option<usize>| -> Result<bool> {
            match number(c)? {
                None => Ok(false),
                Some(0.0) => Ok(false),
                Some(1.0) => Ok(true),
                Some(v) => Err(data_err(Some(row), col(c), format!("{v} must be 0 or 1"))),
            }
        };
        let id = cell(cols.id);
        if id.is_empty() {
            return Err(data_err(Some(row), col(cols.id), "empty ID".into()));
        }
        let p = match ds.patients.iter().position(|p| p.id == id) {
            Some(p) => p,
            None => {
                ds.patients.push(Patient {
                    id: id.to_string(),
                    inputs: Inputs::default(),
                    doses: vec![],
                    observations: vec![],
                });
                set_by.push(vec![]);
                ds.patients.len() - 1
            }
        };
        let time = number(cols.time)?
            .ok_or_else(|| data_err(Some(row), col(cols.time), "empty TIME".into()))?;
        if time < 0.0 {
            return Err(data_err(
                Some(row),
                col(cols.time),
                format!("TIME {time} is before the first infusion (days after it, >= 0)"),
            ));
        }
        // covariates: constant per patient
        for (j, name) in &cols.inputs {
            let t = rec.get(*j).unwrap_or("");
            if t.is_empty() || t == "." {
                continue;
            }
            if let Some((_, prev)) = set_by[p].iter().find(|(n, _)| n == name) {
                if prev != t {
                    return Err(data_err(
                        Some(row),
                        Some(name),
                        format!("`{t}` differs from `{prev}` earlier for ID {id}: inputs must be constant per patient"),
                    ));
                }
                continue;
            }
            ds.patients[p]
                .inputs
                .set(model, name, t)
                .map_err(|e| data_err(Some(row), Some(name), e.to_string()))?;
            set_by[p].push((name.clone(), t.to_string()));
        }
        let amt = number(cols.amt)?;
        let evid = match number(cols.evid)? {
            None => u8::from(amt.is_some_and(|a| a > 0.0)),
            Some(0.0) => 0,
            Some(1.0) => 1,
            Some(v) => {
                return Err(data_err(
                    Some(row),
                    col(cols.evid),
                    format!("EVID {v} is not supported (0 observation, 1 dose)"),
                ))
            }
        };
        if evid == 1 {
            let a = amt.filter(|a| *a > 0.0).ok_or_else(|| {
                data_err(
                    Some(row),
                    col(cols.amt).or(Some("AMT")),
                    "a dose record (EVID 1) needs AMT > 0 (CAR-T cells)".into(),
                )
            })?;
            if model.regimen.is_none() {
                return Err(data_err(
                    Some(row),
                    col(cols.amt),
                    format!(
                        "model `{}` takes no dose (it has no [regimen] section)",
                        model.name
                    ),
                ));
            }
            ds.patients[p].doses.push((time, a));
            continue;
        }
        if flag(cols.mdv)? {
            continue;
        }
        let blq = flag(cols.blq)?;
        let lloq = number(cols.lloq)?;
        let dv = number(cols.dv)?;
        let censored = blq || matches!((dv, lloq), (Some(d), Some(l)) if d < l);
        let value = if censored {
            lloq.or(dv).ok_or_else(|| {
                data_err(
                    Some(row),
                    col(cols.blq),
                    "a BLQ row needs its limit in LLOQ (or DV)".into(),
                )
            })?
        } else {
            dv.ok_or_else(|| {
                data_err(
                    Some(row),
                    col(cols.dv),
                    "empty DV in an observation row".into(),
                )
            })?
        };
        let obs_text = cell(cols.obs);
        let quantity = resolve_quantity(model, obs_text).ok_or_else(|| {
            data_err(
                Some(row),
                col(cols.obs),
                format!(
                    "`{obs_text}` is not a state or observable of model `{}` (see `cartox describe {}`)",
                    model.name, model.name
                ),
            )
        })?;
        let name = match quantity {
            Quantity::State(i) => model.states[i].name.clone(),
            Quantity::Observable(i) => model.observables[i].name.clone(),
        };
        let obs = match ds.obs_names.iter().position(|n| *n == name) {
            Some(o) => o,
            None => {
                ds.obs_names.push(name);
                ds.obs_names.len() - 1
            }
        };
        ds.patients[p].observations.push(Observation {
            time,
            quantity,
            obs,
            value,
            censored,
            row,
        });
    }
    if ds.patients.is_empty() {
        return Err(data_err(None, None, "no data rows".into()));
    }
    for p in &mut ds.patients {
        set_regimen(p).map_err(|e| data_err(None, Some("AMT"), format!("ID {}: {e}", p.id)))?;
    }
    Ok(ds)
}

/// A state or observable by name (observables first), or a 1-based state number.
fn resolve_quantity(model: &Model, text: &str) -> Option<Quantity> {
    if let Some(i) = model.observable_index(text) {
        return Some(Quantity::Observable(i));
    }
    if let Some(i) = model.state_index(text) {
        return Some(Quantity::State(i));
    }
    match text.parse::<usize>() {
        Ok(n) if n >= 1 && n <= model.n_states() => Some(Quantity::State(n - 1)),
        _ => None,
    }
}

/// The regimen of a patient's dose records: total dose and, for several times, the schedule.
fn set_regimen(p: &mut Patient) -> Result<()> {
    if p.doses.is_empty() {
        return Ok(());
    }
    p.doses.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = vec![];
    for &(t, a) in &p.doses {
        match merged.last_mut() {
            Some(last) if last.0 == t => last.1 += a,
            _ => merged.push((t, a)),
        }
    }
    p.doses = merged;
    let total: f64 = p.doses.iter().map(|d| d.1).sum();
    p.inputs.set_dose(total)?;
    if p.doses.len() > 1 || p.doses[0].0 != 0.0 {
        p.inputs
            .set_schedule(p.doses.iter().map(|&(t, a)| (t, a / total)).collect())?;
    }
    Ok(())
}
