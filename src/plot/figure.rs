//! The default figure for a model: which panels, their labels with units, log or linear scale,
//! dose markers and the monitoring windows.

use super::{Figure, Panel, Series};
use crate::model::{Model, Quantity};

/// Caption line every figure carries.
pub const CAPTION: &str =
    "Modelled quantities; risk grades are modelled risk, not clinical (ASTCT) grades.";

fn quantity_name(model: &Model, q: Quantity) -> String {
    match q {
        Quantity::State(i) => model.states[i].name.clone(),
        Quantity::Observable(i) => model.observables[i].name.clone(),
    }
}

/// Label with unit for a column of this model's output ("cart_blood (cells/uL)").
pub fn label_for(model: &Model, column: &str) -> String {
    let (desc, unit) = if let Some(o) = model.observables.iter().find(|o| o.name == column) {
        (o.description.clone(), o.unit.clone())
    } else if let Some(s) = model.states.iter().find(|s| s.name == column) {
        (s.description.clone(), s.unit.clone())
    } else {
        (String::new(), String::new())
    };
    let name = if !desc.is_empty() && desc.len() <= 28 {
        desc
    } else {
        column.to_string()
    };
    if unit.is_empty() {
        name
    } else {
        format!("{name} ({unit})")
    }
}

/// The default panels: the CAR-T and tumor quantities, then the cytokine and neurotoxicity
/// observables when the model has them; otherwise every observable (or every state).
pub fn default_panels(model: &Model) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for q in [model.summary_cart, model.summary_tumor]
        .into_iter()
        .flatten()
    {
        cols.push(quantity_name(model, q));
    }
    // The graded quantities (with their thresholds), else the usual cytokine observables.
    let graded: Vec<String> = model
        .toxicity
        .iter()
        .flat_map(|t| [&t.crs, &t.icans])
        .flatten()
        .map(|g| quantity_name(model, g.quantity))
        .collect();
    if graded.is_empty() {
        for name in ["il6", "icans_drive"] {
            if model.observable_index(name).is_some() {
                cols.push(name.to_string());
            }
        }
    } else {
        cols.extend(graded);
    }
    if cols.is_empty() {
        cols = if model.observables.is_empty() {
            model.states.iter().map(|s| s.name.clone()).collect()
        } else {
            model.observables.iter().map(|o| o.name.clone()).collect()
        };
    }
    cols.truncate(6);
    cols
}

/// Log scale when the data are positive and span more than two decades.
pub fn wants_log(series: &[Series], column: &str) -> bool {
    let mut lo = f64::INFINITY;
    let mut hi = 0.0f64;
    for s in series {
        if let Some(v) = s.column(column) {
            for &x in v.iter().filter(|x| x.is_finite()) {
                if x <= 0.0 {
                    return false;
                }
                lo = lo.min(x);
                hi = hi.max(x);
            }
        }
    }
    hi > 0.0 && hi / lo > 100.0
}

/// Build the figure for `columns` of a model's output.
pub fn figure_for(model: Option<&Model>, columns: &[String], series: &[Series]) -> Figure {
    let panels = columns
        .iter()
        .map(|c| {
            let label = model.map_or(c.clone(), |m| label_for(m, c));
            let mut p = Panel::new(c, &label);
            p.log = wants_log(series, c);
            if let Some(m) = model {
                p.thresholds = thresholds_for(m, c);
            }
            p
        })
        .collect();
    Figure {
        panels,
        caption: Some(CAPTION.to_string()),
        ..Figure::default()
    }
}

/// Grade thresholds drawn on the panel of a graded quantity ("CRS grade 2", ...).
pub fn thresholds_for(model: &Model, column: &str) -> Vec<(f64, String)> {
    let Some(tox) = &model.toxicity else {
        return vec![];
    };
    let mut out = Vec::new();
    for (what, g) in [("CRS", &tox.crs), ("ICANS", &tox.icans)] {
        if let Some(g) = g {
            if quantity_name(model, g.quantity) == column {
                for (k, c) in g.thresholds.iter().enumerate() {
                    out.push((*c, format!("{what} grade {}", k + 1)));
                }
            }
        }
    }
    out
}

/// Monitoring and early-alarm windows (days) to shade.
pub fn windows(window: f64, alarm_window: Option<f64>) -> Vec<(f64, f64, String)> {
    let mut w = vec![(0.0, window, format!("monitoring 0-{window} d"))];
    if let Some(a) = alarm_window.filter(|a| *a < window) {
        w.push((0.0, a, format!("early alarm 0-{a} d")));
    }
    w
}
