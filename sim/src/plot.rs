//! SVG plots (plotters): prices, allowed leverage with the breaker state, cumulative
//! liquidations. SVG needs no font files, so the plots build anywhere.

use std::path::Path;

use ballast_oracle::candles::format_timestamp_ms;
use plotters::prelude::*;

use crate::run::{RunResult, Sample};

type PlotResult = Result<(), Box<dyn std::error::Error>>;

const PALETTE: [RGBColor; 5] = [
    RGBColor(200, 30, 30),
    RGBColor(20, 90, 200),
    RGBColor(230, 140, 0),
    RGBColor(30, 150, 60),
    RGBColor(140, 60, 170),
];

fn hours(first_ms: u64, s: &Sample) -> f64 {
    (s.at_ms.saturating_sub(first_ms)) as f64 / 3_600_000.0
}

fn date_label(first_ms: u64) -> impl Fn(&f64) -> String {
    move |h: &f64| {
        let ms = first_ms + (h.max(0.0) * 3_600_000.0) as u64;
        format_timestamp_ms(ms)[5..10].to_string()
    }
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad, hi + pad)
}

fn span(results: &[RunResult]) -> (u64, f64) {
    let first = results
        .first()
        .and_then(|r| r.samples.first())
        .map_or(0, |s| s.at_ms);
    let last = results
        .iter()
        .flat_map(|r| r.samples.last())
        .map(|s| hours(first, s))
        .fold(1.0, f64::max);
    (first, last)
}

/// Exogenous price and the simulated price under each protocol.
pub fn prices(results: &[RunResult], title: &str, path: &Path) -> PlotResult {
    let (first, last) = span(results);
    let all = results
        .iter()
        .flat_map(|r| r.samples.iter().flat_map(|s| [s.exogenous, s.simulated]));
    let (lo, hi) = bounds(all);
    let root = SVGBackend::new(path, (1000, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..last, lo..hi)?;
    chart
        .configure_mesh()
        .x_labels(10)
        .x_label_formatter(&date_label(first))
        .y_desc("price (quote per base)")
        .draw()?;
    if let Some(r) = results.first() {
        let exo = r.samples.iter().map(|s| (hours(first, s), s.exogenous));
        chart
            .draw_series(LineSeries::new(exo, BLACK.stroke_width(2)))?
            .label("exogenous (candles)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    }
    for (k, r) in results.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let sim = r.samples.iter().map(|s| (hours(first, s), s.simulated));
        chart
            .draw_series(LineSeries::new(sim, color))?
            .label(format!("simulated: {}", r.protocol.name()))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Allowed leverage for a new position of the reference notional, with reduce-only and halt
/// periods shaded (top), and the forecast volatility each protocol's oracle saw (bottom).
pub fn leverage(results: &[RunResult], title: &str, path: &Path) -> PlotResult {
    let (first, last) = span(results);
    let top = results
        .iter()
        .flat_map(|r| r.samples.iter().map(|s| s.leverage))
        .fold(1.0, f64::max)
        * 1.1;
    let root = SVGBackend::new(path, (1000, 620)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(400);
    let mut chart = ChartBuilder::on(&upper)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..last, 0.0..top)?;
    chart
        .configure_mesh()
        .x_labels(10)
        .x_label_formatter(&date_label(first))
        .y_desc("allowed leverage, new position")
        .draw()?;
    for (k, r) in results.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let bands: Vec<_> = r
            .samples
            .windows(2)
            .filter(|w| w[0].breaker != 0)
            .map(|w| {
                Rectangle::new(
                    [(hours(first, &w[0]), 0.0), (hours(first, &w[1]), top)],
                    color.mix(0.25).filled(),
                )
            })
            .collect();
        chart.draw_series(bands)?;
    }
    for (k, r) in results.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let line = r.samples.iter().map(|s| (hours(first, s), s.leverage));
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)))?
            .label(format!(
                "{} (shaded: reduce-only or halted)",
                r.protocol.name()
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    let vol_top = results
        .iter()
        .flat_map(|r| r.samples.iter().map(|s| s.forecast_vol * 100.0))
        .fold(1.0, f64::max)
        * 1.1;
    let mut vols = ChartBuilder::on(&lower)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..last, 0.0..vol_top)?;
    vols.configure_mesh()
        .x_labels(10)
        .x_label_formatter(&date_label(first))
        .y_desc("forecast vol, % a year")
        .draw()?;
    for (k, r) in results.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let line = r
            .samples
            .iter()
            .map(|s| (hours(first, s), s.forecast_vol * 100.0));
        vols.draw_series(LineSeries::new(line, color))?;
    }
    root.present()?;
    Ok(())
}

/// Cumulative liquidated notional under each protocol.
pub fn liquidations(results: &[RunResult], title: &str, path: &Path) -> PlotResult {
    let (first, last) = span(results);
    let top = results
        .iter()
        .flat_map(|r| r.samples.last().map(|s| s.liquidated))
        .fold(1.0, f64::max)
        * 1.1;
    let root = SVGBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(90)
        .build_cartesian_2d(0.0..last, 0.0..top)?;
    chart
        .configure_mesh()
        .x_labels(10)
        .x_label_formatter(&date_label(first))
        .y_label_formatter(&|v| format!("{:.1}M", v / 1e6))
        .y_desc("cumulative liquidated notional")
        .draw()?;
    for (k, r) in results.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let line = r.samples.iter().map(|s| (hours(first, s), s.liquidated));
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)))?
            .label(r.protocol.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
