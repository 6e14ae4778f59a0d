//! `cartox plot`: figures from time-course CSV files (simulate --out, sweep --timecourses).

use anyhow::{bail, Result};
use cartox::model::Model;
use cartox::plot::{self, figure, Band, Figure, Series};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug, Clone)]
pub struct FigureArgs {
    /// Observables or states to draw, one panel each (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub panels: Vec<String>,
    /// Figure width, pixels.
    #[arg(long, default_value_t = 900)]
    pub width: u32,
    /// Figure height, pixels.
    #[arg(long, default_value_t = 1000)]
    pub height: u32,
    /// Figure title.
    #[arg(long)]
    pub title: Option<String>,
}

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Time-course CSV files (a `time` column in days; an `ID` column makes a population).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output figure (.png or .svg).
    #[arg(long, value_name = "FIG")]
    pub out: PathBuf,
    /// Model whose units label the axes.
    #[arg(long, short = 'm', default_value = cartox::model::DEFAULT_MODEL)]
    pub model: String,
    /// Percentile ribbon for populations, LO,HI.
    #[arg(long, default_value = "5,95", value_delimiter = ',')]
    pub band: Vec<f64>,
    #[command(flatten)]
    pub figure: FigureArgs,
}

impl FigureArgs {
    /// The library's figure options.
    pub fn options(&self) -> plot::FigureOptions {
        plot::FigureOptions {
            panels: self.panels.clone(),
            width: self.width,
            height: self.height,
            title: self.title.clone(),
        }
    }
}

/// Apply panel choice, size and title; check the panels exist in the data.
fn build_figure(
    model: Option<&Model>,
    args: &FigureArgs,
    series: &[Series],
    out: &Path,
) -> Result<Figure> {
    Ok(plot::build_figure(model, &args.options(), series, out)?)
}

pub fn run(a: PlotArgs) -> Result<ExitCode> {
    let model = Model::resolve(&a.model).ok();
    if a.band.len() != 2
        || !(0.0..=100.0).contains(&a.band[0])
        || !(0.0..=100.0).contains(&a.band[1])
        || a.band[0] >= a.band[1]
    {
        bail!("--band: expected LO,HI percentiles with 0 <= LO < HI <= 100");
    }
    let mut groups: Vec<Vec<Series>> = Vec::new();
    for path in &a.inputs {
        let label = path
            .file_stem()
            .map_or("input".into(), |s| s.to_string_lossy().into_owned());
        groups.push(plot::read_timecourse_csv(path, &label)?);
    }
    let population = groups.iter().any(|g| g.len() > 1);
    if !population {
        let series: Vec<Series> = groups.into_iter().flatten().collect();
        let fig = build_figure(model.as_ref(), &a.figure, &series, &a.out)?;
        plot::render_series(&fig, &series, &a.out)?;
        return Ok(ExitCode::SUCCESS);
    }
    // Populations: one band per input file and panel.
    let firsts: Vec<Series> = groups.iter().map(|g| g[0].clone()).collect();
    let mut fig = build_figure(model.as_ref(), &a.figure, &firsts, &a.out)?;
    let mut bands: Vec<Vec<Band>> = Vec::new();
    for p in &fig.panels {
        let mut per_panel = Vec::new();
        for (g, path) in groups.iter().zip(&a.inputs) {
            let time = g[0].time.clone();
            let patients: Vec<Vec<f64>> = g
                .iter()
                .filter(|s| s.time == time)
                .filter_map(|s| s.column(&p.column).map(<[f64]>::to_vec))
                .collect();
            let label = format!(
                "{} (n = {})",
                path.file_stem()
                    .map_or("input".into(), |s| s.to_string_lossy().into_owned()),
                patients.len()
            );
            per_panel.push(plot::percentile_band(
                &label, &time, &patients, a.band[0], a.band[1],
            ));
        }
        bands.push(per_panel);
    }
    let n: usize = groups.iter().map(Vec::len).sum();
    fig.caption = Some(format!(
        "Median and {}-{}% range of {n} virtual patients. {}",
        a.band[0],
        a.band[1],
        figure::CAPTION
    ));
    plot::render_bands(&fig, &bands, &a.out)?;
    Ok(ExitCode::SUCCESS)
}
