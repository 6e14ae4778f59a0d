//! Figures of simulated runs: each run's time course as a [`Series`], the model's default panels,
//! units and grade thresholds, dose and intervention markers, the monitoring and alarm windows.

use super::{figure, render_series, Figure, PlotError, Series};
use crate::model::Model;
use crate::run::{Run, RunOptions};
use std::path::Path;

/// What to draw and how big: panel columns (states or observables; empty: the model's default
/// panels present in the data), size in pixels, title.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureOptions {
    /// Columns to draw, one panel each (empty: the model's default panels).
    pub panels: Vec<String>,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Title above the panels.
    pub title: Option<String>,
}

impl Default for FigureOptions {
    /// The model's default panels, 900 x 1000 pixels, no title.
    fn default() -> Self {
        FigureOptions {
            panels: vec![],
            width: 900,
            height: 1000,
            title: None,
        }
    }
}

/// The figure for `series`: the chosen panels (checked against the data; an unknown one is a
/// [`PlotError::UnknownPanel`] naming `out`), labelled with the model's names and units.
pub fn build_figure(
    model: Option<&Model>,
    opts: &FigureOptions,
    series: &[Series],
    out: &Path,
) -> crate::error::Result<Figure> {
    let columns: Vec<String> = if opts.panels.is_empty() {
        let defaults = model.map(figure::default_panels).unwrap_or_default();
        let present: Vec<String> = defaults
            .into_iter()
            .filter(|c| series.iter().any(|s| s.column(c).is_some()))
            .collect();
        if present.is_empty() {
            series
                .first()
                .map(|s| s.columns.iter().take(4).map(|(n, _)| n.clone()).collect())
                .unwrap_or_default()
        } else {
            present
        }
    } else {
        opts.panels.iter().map(|p| p.trim().to_string()).collect()
    };
    for c in &columns {
        if !series.iter().any(|s| s.column(c).is_some()) {
            let available: Vec<&str> = series
                .first()
                .map(|s| s.columns.iter().map(|(n, _)| n.as_str()).collect())
                .unwrap_or_default();
            return Err(crate::Error::from(PlotError::UnknownPanel {
                file: super::file_name(out),
                column: c.clone(),
                available: available.join(", "),
            }));
        }
    }
    let mut fig = figure::figure_for(model, &columns, series);
    fig.width = opts.width;
    fig.height = opts.height;
    fig.title = opts.title.clone();
    Ok(fig)
}

/// One run's time course (states and observables on the output grid of `opts`) as a series.
pub fn series_of(model: &Model, run: &Run, opts: &RunOptions, label: &str) -> Series {
    let tr = run.trajectory(model, opts);
    let columns = tr
        .state_names
        .iter()
        .chain(&tr.observable_names)
        .map(|n| (n.clone(), tr.column(n).unwrap_or_default()))
        .collect();
    Series {
        label: label.to_string(),
        time: tr.time.clone(),
        columns,
    }
}

/// Dose markers (from the first run), intervention markers (when there is a single run) and the
/// monitoring and alarm windows.
pub fn decorate(fig: &mut Figure, model: &Model, opts: &RunOptions, runs: &[&Run]) {
    if let Some(run) = runs.first() {
        for inf in &run.scenario.infusions {
            fig.markers.push((inf.day, "dose".into()));
        }
        if runs.len() == 1 {
            if let Some(tox) = &run.toxicity {
                for f in &tox.interventions {
                    fig.markers.push((f.start_day, f.name.clone()));
                }
            }
        }
    }
    let window = opts.window.min(opts.days);
    let alarm = model.toxicity.as_ref().map(|_| opts.alarm_window);
    fig.windows = figure::windows(window, alarm);
}

/// The figure of labelled runs (one line each, overlaid) and their series, ready for
/// [`render_series`].
pub fn runs_figure(
    model: &Model,
    runs: &[(&str, &Run)],
    opts: &RunOptions,
    fig_opts: &FigureOptions,
    out: &Path,
) -> crate::error::Result<(Figure, Vec<Series>)> {
    let series: Vec<Series> = runs
        .iter()
        .map(|(label, run)| series_of(model, run, opts, label))
        .collect();
    let mut fig = build_figure(Some(model), fig_opts, &series, out)?;
    let only: Vec<&Run> = runs.iter().map(|(_, r)| *r).collect();
    decorate(&mut fig, model, opts, &only);
    Ok((fig, series))
}

/// Draw labelled runs (overlaid, one colour each) to `out` (`.png` or `.svg`, written
/// atomically).
///
/// ```
/// use cartox::{plot, run, Inputs, Model, RunOptions};
/// let model = Model::default_model();
/// let opts = RunOptions::for_model(&model);
/// let r = run(&model, &Inputs::default(), &opts).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// let out = dir.path().join("patient.svg");
/// plot::draw_runs(&model, &[("typical patient", &r)], &opts, &Default::default(), &out).unwrap();
/// assert!(std::fs::read_to_string(&out).unwrap().contains("<svg"));
/// ```
pub fn draw_runs(
    model: &Model,
    runs: &[(&str, &Run)],
    opts: &RunOptions,
    fig_opts: &FigureOptions,
    out: &Path,
) -> crate::error::Result<()> {
    let (fig, series) = runs_figure(model, runs, opts, fig_opts, out)?;
    render_series(&fig, &series, out)
}
