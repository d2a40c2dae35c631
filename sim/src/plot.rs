//! An SVG of one or more runs: would-be 401s and endpoint calls over time,
//! one line per stack.

use core::fmt;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::{Report, human};

/// Why [`plot_svg`] could not write its file.
#[derive(Debug)]
pub struct PlotError(String);

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plot: {}", self.0)
    }
}

impl std::error::Error for PlotError {}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError(e.to_string())
    }
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(214, 39, 40),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(31, 119, 180),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

#[derive(Clone, Copy)]
enum Metric {
    WouldBe401s,
    EndpointCalls,
}

/// Writes an SVG to `path`: one row per run, with two panels — would-be
/// 401s and token-endpoint calls per bucket over simulated hours — and one
/// line per stack.
pub fn plot_svg(runs: &[Report], path: impl AsRef<Path>) -> Result<(), PlotError> {
    if runs.is_empty() {
        return Err(PlotError("no run to plot".into()));
    }
    let rows = u32::try_from(runs.len()).unwrap_or(u32::MAX).min(64);
    let root = SVGBackend::new(path.as_ref(), (1400, 430 * rows)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((runs.len(), 2));
    for (run, pair) in runs.iter().zip(areas.chunks(2)) {
        if let [left, right] = pair {
            panel(left, run, Metric::WouldBe401s)?;
            panel(right, run, Metric::EndpointCalls)?;
        }
    }
    root.present()?;
    Ok(())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    run: &Report,
    metric: Metric,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let scenario = &run.scenario;
    let bucket = scenario.bucket().as_secs_f64();
    let lines: Vec<(&str, Vec<(f64, f64)>)> = run
        .stacks
        .iter()
        .map(|s| {
            let values = match metric {
                Metric::WouldBe401s => &s.series.would_be_401s,
                Metric::EndpointCalls => &s.series.endpoint_calls,
            };
            let points = values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as f64 * bucket / 3600.0, *v as f64))
                .collect();
            (s.label.as_str(), points)
        })
        .collect();
    let y_max = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.12;
    let x_max = scenario.duration().as_secs_f64() / 3600.0;
    let what = match metric {
        Metric::WouldBe401s => "would-be 401s",
        Metric::EndpointCalls => "token-endpoint calls",
    };
    let short = scenario.name().split(':').next().unwrap_or("run");
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{short}: {what} per {}", human(bucket)),
            ("sans-serif", 18),
        )
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("simulated hours")
        .y_desc(format!("{what} / {}", human(bucket)))
        .light_line_style(RGBColor(238, 238, 238))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    for (k, (label, points)) in lines.into_iter().enumerate() {
        let color = PALETTE.get(k % PALETTE.len()).copied().unwrap_or(BLACK);
        // Earlier lines drawn wider, so lines that coincide stay visible.
        let width = 4u32.saturating_sub(u32::try_from(k).unwrap_or(3)).max(1);
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(width)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
