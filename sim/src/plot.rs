//! SVG plots (plotters): prices, allowed leverage with the breaker state, cumulative
//! liquidations. SVG needs no font files, so the plots build anywhere.

use std::ops::Range;
use std::path::Path;

use ballast_oracle::candles::format_timestamp_ms;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::run::{RunResult, Sample};

type PlotResult = Result<(), Box<dyn std::error::Error>>;

const PALETTE: [RGBColor; 7] = [
    RGBColor(200, 30, 30),
    RGBColor(20, 90, 200),
    RGBColor(230, 140, 0),
    RGBColor(30, 150, 60),
    RGBColor(140, 60, 170),
    RGBColor(0, 160, 170),
    RGBColor(120, 120, 120),
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

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A chart over hours since `first` (labelled with dates) and `y`, with a mesh and a caption.
fn chart<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    caption: Option<&str>,
    (first, last): (u64, f64),
    y: Range<f64>,
    y_desc: &str,
    y_label: Option<&dyn Fn(&f64) -> String>,
) -> Result<Chart<'a, 'b>, Box<dyn std::error::Error>> {
    let mut builder = ChartBuilder::on(area);
    if let Some(text) = caption {
        builder.caption(text, ("sans-serif", 20));
    }
    let mut chart = builder
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(if y_label.is_some() { 90 } else { 70 })
        .build_cartesian_2d(0.0..last, y)?;
    let dates = date_label(first);
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(10).x_label_formatter(&dates).y_desc(y_desc);
    if let Some(format) = y_label {
        mesh.y_label_formatter(format);
    }
    mesh.draw()?;
    Ok(chart)
}

/// One line per protocol, in the palette's colours, labelled for the legend.
fn protocol_lines(
    chart: &mut Chart<'_, '_>,
    results: &[RunResult],
    first: u64,
    width: u32,
    value: impl Fn(&Sample) -> f64,
    label: impl Fn(&RunResult) -> String,
) -> PlotResult {
    for (k, r) in results.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let line = r.samples.iter().map(|s| (hours(first, s), value(s)));
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(width)))?
            .label(label(r))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    Ok(())
}

fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, position: SeriesLabelPosition) -> PlotResult {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Exogenous price and the simulated price under each protocol.
pub fn prices(results: &[RunResult], title: &str, path: &Path) -> PlotResult {
    let span = span(results);
    let all = results
        .iter()
        .flat_map(|r| r.samples.iter().flat_map(|s| [s.exogenous, s.simulated]));
    let (lo, hi) = bounds(all);
    let root = SVGBackend::new(path, (1000, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = chart(
        &root,
        Some(title),
        span,
        lo..hi,
        "price (quote per base)",
        None,
    )?;
    if let Some(r) = results.first() {
        let exo = r.samples.iter().map(|s| (hours(span.0, s), s.exogenous));
        chart
            .draw_series(LineSeries::new(exo, BLACK.stroke_width(2)))?
            .label("exogenous (candles)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    }
    protocol_lines(
        &mut chart,
        results,
        span.0,
        1,
        |s| s.simulated,
        |r| format!("simulated: {}", r.protocol.name()),
    )?;
    legend(&mut chart, SeriesLabelPosition::LowerLeft)?;
    root.present()?;
    Ok(())
}

/// Allowed leverage for a new position of the reference notional, with reduce-only and halt
/// periods shaded (top), and the forecast volatility each protocol's oracle saw (bottom).
pub fn leverage(results: &[RunResult], title: &str, path: &Path) -> PlotResult {
    let span = span(results);
    let first = span.0;
    let top = results
        .iter()
        .flat_map(|r| r.samples.iter().map(|s| s.leverage))
        .fold(1.0, f64::max)
        * 1.1;
    let root = SVGBackend::new(path, (1000, 620)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(400);
    let mut caps = chart(
        &upper,
        Some(title),
        span,
        0.0..top,
        "allowed leverage, new position",
        None,
    )?;
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
        caps.draw_series(bands)?;
    }
    protocol_lines(
        &mut caps,
        results,
        first,
        2,
        |s| s.leverage,
        |r| format!("{} (shaded: reduce-only or halted)", r.protocol.name()),
    )?;
    legend(&mut caps, SeriesLabelPosition::LowerLeft)?;
    let vol_top = results
        .iter()
        .flat_map(|r| r.samples.iter().map(|s| s.forecast_vol * 100.0))
        .fold(1.0, f64::max)
        * 1.1;
    let mut vols = chart(
        &lower,
        None,
        span,
        0.0..vol_top,
        "forecast vol, % a year",
        None,
    )?;
    protocol_lines(
        &mut vols,
        results,
        first,
        1,
        |s| s.forecast_vol * 100.0,
        |r| r.protocol.name().to_string(),
    )?;
    root.present()?;
    Ok(())
}

/// Cumulative liquidated notional under each protocol.
pub fn liquidations(results: &[RunResult], title: &str, path: &Path) -> PlotResult {
    let span = span(results);
    let top = results
        .iter()
        .flat_map(|r| r.samples.last().map(|s| s.liquidated))
        .fold(1.0, f64::max)
        * 1.1;
    let root = SVGBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let millions = |v: &f64| format!("{:.1}M", v / 1e6);
    let mut chart = chart(
        &root,
        Some(title),
        span,
        0.0..top,
        "cumulative liquidated notional",
        Some(&millions),
    )?;
    protocol_lines(
        &mut chart,
        results,
        span.0,
        2,
        |s| s.liquidated,
        |r| r.protocol.name().to_string(),
    )?;
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

/// A named hourly series of the initial requirement, fraction of notional.
pub struct MarginLine {
    /// Model or protocol name.
    pub name: String,
    /// `(time ms, IM)` per hour.
    pub points: Vec<(u64, f64)>,
}

/// IM over time, one line per model (the yardstick's series).
pub fn margin(lines: &[MarginLine], title: &str, path: &Path) -> PlotResult {
    let first = lines
        .iter()
        .flat_map(|l| l.points.first())
        .map(|p| p.0)
        .min()
        .unwrap_or(0);
    let last = lines
        .iter()
        .flat_map(|l| l.points.last())
        .map(|p| p.0.saturating_sub(first) as f64 / 3_600_000.0)
        .fold(1.0, f64::max);
    let (_, hi) = bounds(
        lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1 * 100.0)),
    );
    let root = SVGBackend::new(path, (1200, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = chart(
        &root,
        Some(title),
        (first, last),
        0.0..hi,
        "initial margin, % of notional",
        None,
    )?;
    for (k, line) in lines.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        // Long series are drawn as the highest IM of each of at most 2,000 buckets, so that a
        // three-year file stays a small file and no peak is lost.
        let bucket = line.points.len().div_ceil(2_000).max(1);
        let points = line.points.chunks(bucket).map(|c| {
            let at = c[0].0;
            let im = c.iter().map(|p| p.1).fold(0.0f64, f64::max);
            (at.saturating_sub(first) as f64 / 3_600_000.0, im * 100.0)
        });
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(1)))?
            .label(line.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

/// Each market's cumulative liquidated notional over time, split into own-market (solid) and
/// contagion (dashed: from accounts whose loss came mostly from another market), one panel per
/// run.
pub fn contagion(panels: &[(String, &RunResult)], title: &str, path: &Path) -> PlotResult {
    let height = 60 + 360 * panels.len().max(1) as u32;
    let root = SVGBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (head, body) = root.split_vertically(40);
    head.titled(title, ("sans-serif", 20))?;
    let areas = body.split_evenly((panels.len().max(1), 1));
    let millions = |v: &f64| format!("{:.1}M", v / 1e6);
    let top = panels
        .iter()
        .flat_map(|(_, r)| r.markets.iter())
        .flat_map(|m| m.hours.last())
        .map(|h| h.own_liquidated.max(h.contagion_liquidated))
        .fold(1.0, f64::max)
        * 1.1;
    for ((label, run), area) in panels.iter().zip(&areas) {
        let first = run
            .markets
            .first()
            .and_then(|m| m.hours.first())
            .map_or(0, |h| h.at_ms);
        let last = run
            .markets
            .iter()
            .flat_map(|m| m.hours.last())
            .map(|h| (h.at_ms.saturating_sub(first)) as f64 / 3_600_000.0)
            .fold(1.0, f64::max);
        let mut chart = chart(
            area,
            Some(label),
            (first, last),
            0.0..top,
            "cumulative liquidated notional",
            Some(&millions),
        )?;
        for (k, market) in run.markets.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let at = |ms: u64| (ms.saturating_sub(first)) as f64 / 3_600_000.0;
            let own = market.hours.iter().map(|h| (at(h.at_ms), h.own_liquidated));
            chart
                .draw_series(LineSeries::new(own, color.stroke_width(2)))?
                .label(format!("{}: own market", market.name))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            let spread: Vec<(f64, f64)> = market
                .hours
                .iter()
                .map(|h| (at(h.at_ms), h.contagion_liquidated))
                .collect();
            chart
                .draw_series(DashedLineSeries::new(spread, 6, 4, color.stroke_width(2)))?
                .label(format!("{}: contagion", market.name))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(1))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    }
    root.present()?;
    Ok(())
}
