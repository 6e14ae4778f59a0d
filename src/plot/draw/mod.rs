//! Validation ("plan") and drawing of a figure on any plotters backend, one file per step.

mod canvas;
mod panels;
mod plan;
mod render;

use super::layout::{layout, text_width, Layout, Rect};
use super::ticks::{linear_axis, log_axis, Axis};
use super::{file_name, series_color, Band, Figure, PlotError, Series, RIBBON_ALPHA};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;
use std::path::Path;

use canvas::*;
pub(crate) use canvas::{rgb, Ctx, AXIS, GRID, INK, R, SOFT};
use panels::*;
pub(crate) use plan::{Layer, Plan};
pub(crate) use render::{downsample, render};
