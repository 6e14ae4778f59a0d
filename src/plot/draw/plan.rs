//! Validation of a figure before drawing: the plan of layers per panel, with one-line errors.

#[allow(unused_imports)]
use super::*;

/// One drawable layer of a panel.
pub(crate) struct Layer<'a> {
    pub group: usize,
    pub time: &'a [f64],
    pub line: Option<&'a [f64]>,
    pub ribbon: Option<(&'a [f64], &'a [f64])>,
}

/// Validated data of a figure.
pub(crate) struct Plan<'a> {
    /// (label, group index, has ribbon)
    pub legend: Vec<(String, usize, bool)>,
    pub panels: Vec<Vec<Layer<'a>>>,
}

pub(crate) fn data_err(out: &Path, msg: String) -> PlotError {
    PlotError::Data {
        file: file_name(out),
        msg,
    }
}

pub(crate) fn drawable(v: &[f64], log: bool) -> bool {
    v.iter().any(|x| x.is_finite() && (!log || *x > 0.0))
}

pub(crate) fn check_time(
    out: &Path,
    what: &str,
    label: &str,
    time: &[f64],
) -> Result<(), PlotError> {
    if time.is_empty() {
        return Err(data_err(
            out,
            format!("{what} `{label}` is empty (no time points)"),
        ));
    }
    if let Some(t) = time.iter().find(|t| !t.is_finite()) {
        return Err(data_err(
            out,
            format!("{what} `{label}` has a non-finite time value ({t})"),
        ));
    }
    Ok(())
}

pub(crate) fn check_annotations(fig: &Figure, out: &Path) -> Result<(), PlotError> {
    if let Some((t, l)) = fig.markers.iter().find(|m| !m.0.is_finite()) {
        return Err(data_err(
            out,
            format!("marker `{l}` has a non-finite time ({t})"),
        ));
    }
    if let Some((a, b, l)) = fig
        .windows
        .iter()
        .find(|w| !w.0.is_finite() || !w.1.is_finite())
    {
        return Err(data_err(
            out,
            format!("window `{l}` has a non-finite bound ({a}, {b})"),
        ));
    }
    Ok(())
}

impl<'a> Plan<'a> {
    pub fn from_series(
        fig: &Figure,
        series: &'a [Series],
        out: &Path,
    ) -> Result<Plan<'a>, PlotError> {
        if fig.panels.is_empty() {
            return Err(data_err(out, "figure has no panels".into()));
        }
        check_annotations(fig, out)?;
        if series.is_empty() {
            return Err(data_err(out, "no series to plot".into()));
        }
        for s in series {
            check_time(out, "series", &s.label, &s.time)?;
            for (name, v) in &s.columns {
                if v.len() != s.time.len() {
                    return Err(data_err(
                        out,
                        format!(
                            "series `{}`: column `{name}` has {} values for {} time points",
                            s.label,
                            v.len(),
                            s.time.len()
                        ),
                    ));
                }
            }
        }
        let mut panels = vec![];
        for p in &fig.panels {
            let layers: Vec<Layer> = series
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    s.column(&p.column).map(|v| Layer {
                        group: i,
                        time: &s.time,
                        line: Some(v),
                        ribbon: None,
                    })
                })
                .collect();
            if layers.is_empty() {
                let mut avail: Vec<&str> = vec![];
                for s in series {
                    for (n, _) in &s.columns {
                        if !avail.contains(&n.as_str()) {
                            avail.push(n);
                        }
                    }
                }
                return Err(PlotError::UnknownPanel {
                    file: file_name(out),
                    column: p.column.clone(),
                    available: avail.join(", "),
                });
            }
            if !layers.iter().any(|l| drawable(l.line.unwrap(), p.log)) {
                let what = if p.log { "positive" } else { "finite" };
                return Err(data_err(
                    out,
                    format!(
                        "panel `{}`: the column has no {what} values to draw",
                        p.column
                    ),
                ));
            }
            panels.push(layers);
        }
        let legend = series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.label.clone(), i, false))
            .collect();
        Ok(Plan { legend, panels })
    }

    pub fn from_bands(
        fig: &Figure,
        bands: &'a [Vec<Band>],
        out: &Path,
    ) -> Result<Plan<'a>, PlotError> {
        if fig.panels.is_empty() {
            return Err(data_err(out, "figure has no panels".into()));
        }
        check_annotations(fig, out)?;
        if bands.len() != fig.panels.len() {
            return Err(data_err(
                out,
                format!(
                    "{} band set(s) given for {} panel(s)",
                    bands.len(),
                    fig.panels.len()
                ),
            ));
        }
        let mut legend: Vec<(String, usize, bool)> = vec![];
        let mut panels = vec![];
        for (p, set) in fig.panels.iter().zip(bands) {
            if set.is_empty() {
                return Err(data_err(out, format!("panel `{}` has no bands", p.column)));
            }
            let mut layers = vec![];
            for b in set {
                check_time(out, "band", &b.label, &b.time)?;
                for (name, v) in [
                    ("lower", &b.lower),
                    ("median", &b.median),
                    ("upper", &b.upper),
                ] {
                    if v.len() != b.time.len() {
                        return Err(data_err(
                            out,
                            format!(
                                "band `{}` in panel `{}`: {name} has {} values for {} time points",
                                b.label,
                                p.column,
                                v.len(),
                                b.time.len()
                            ),
                        ));
                    }
                }
                let group = match legend.iter().position(|(l, _, _)| *l == b.label) {
                    Some(g) => g,
                    None => {
                        legend.push((b.label.clone(), legend.len(), true));
                        legend.len() - 1
                    }
                };
                layers.push(Layer {
                    group,
                    time: &b.time,
                    line: Some(&b.median),
                    ribbon: Some((&b.lower, &b.upper)),
                });
            }
            let ok = set
                .iter()
                .any(|b| drawable(&b.median, p.log) || drawable(&b.upper, p.log));
            if !ok {
                let what = if p.log { "positive" } else { "finite" };
                return Err(data_err(
                    out,
                    format!(
                        "panel `{}`: the bands have no {what} values to draw",
                        p.column
                    ),
                ));
            }
            panels.push(layers);
        }
        Ok(Plan { legend, panels })
    }
}
