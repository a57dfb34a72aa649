//! `tierbench plot RESULT.json... -o FILE.svg`: latency-by-percentile curves in the
//! style of HdrHistogram's plots, one per series of each run (tierd's GET hot and GET
//! cold, redis-server's GET, a device's QD1 reads...), on one SVG chart. The x axis is
//! 1/(1-p) on a log scale, labelled as percentiles (0 %, 90 %, 99 %, 99.9 % ...), so
//! the tail gets as much room as the median; the latency axis is log scaled too, so a
//! 50 µs device read and a 5 ms tail fit on one chart.

use std::path::Path;

use plotters::prelude::*;

use super::report::RunResult;
use crate::error::Failure;

const SIZE: (u32, u32) = (1200, 750);

/// One curve: its legend and its points (x = 1/(1-p), y = µs).
struct Curve {
    label: String,
    points: Vec<(f64, f64)>,
}

/// The curves of `runs`: every series with samples, named "RUN SERIES".
fn curves(runs: &[RunResult]) -> Vec<Curve> {
    runs.iter()
        .flat_map(|run| {
            run.series
                .iter()
                .filter(|s| s.count > 0)
                .map(move |s| Curve {
                    label: format!("{} {}", run.name, s.name),
                    points: s
                        .curve
                        .iter()
                        .filter(|p| p.percentile < 100.0)
                        .map(|p| (1.0 / (1.0 - p.percentile / 100.0), p.latency_us.max(0.01)))
                        .collect(),
                })
        })
        .filter(|c| !c.points.is_empty())
        .collect()
}

/// A percentile label for x = 1/(1-p): 1 → "0%", 10 → "90%", 1000 → "99.9%".
fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    // Enough decimals to tell the nines apart.
    let decimals = (x.log10() - 2.0).ceil().max(0.0) as usize;
    format!("{p:.decimals$}%")
}

/// Draws the curves of `runs` into the SVG file `out`.
pub fn plot(runs: &[RunResult], out: &Path) -> Result<(), Failure> {
    let curves = curves(runs);
    if curves.is_empty() {
        return Err(Failure::Refused("no series with samples to plot".into()));
    }
    let points = || curves.iter().flat_map(|c| c.points.iter());
    let x_max = points().map(|p| p.0).fold(10.0, f64::max) * 1.2;
    let y_min = points().map(|p| p.1).fold(f64::INFINITY, f64::min) / 1.5;
    let y_max = points().map(|p| p.1).fold(0.0, f64::max) * 1.5;
    let failed = |e: &dyn std::fmt::Display| Failure::io(out, e);
    let root = SVGBackend::new(out, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Latency by percentile", ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((1.0..x_max).log_scale(), (y_min..y_max).log_scale())
        .map_err(|e| failed(&e))?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (µs)")
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()
        .map_err(|e| failed(&e))?;
    for (i, curve) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                curve.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| failed(&e))?
            .label(&curve.label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| failed(&e))?;
    root.present().map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(100_000.0), "99.999%");
    }
}
