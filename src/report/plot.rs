//! The width study of a limit link as an SVG log–log plot (plotters): the rms discrepancy
//! between the sides against the width, one series per configuration (activation, depth), with
//! the fitted slope in the legend.

use super::StudyPlot;
use plotters::prelude::*;

/// Colours of the series, in turn.
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// The plot as an SVG string (empty when the study has no finite positive point).
pub fn svg(study: &StudyPlot) -> String {
    let points: Vec<Vec<(f64, f64)>> = study.series.iter().map(|s| s.points.clone()).collect();
    let all = points.iter().flatten();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in all {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if x0 > x1 || y0 > y1 {
        return String::new();
    }
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (520, 300)).into_drawing_area();
        let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(
                    format!("rms |lhs − rhs| against {} (log–log)", study.width),
                    ("sans-serif", 14),
                )
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(52)
                .build_cartesian_2d(
                    (x0 / 1.2..x1 * 1.2).log_scale(),
                    (y0 / 1.5..y1 * 1.5).log_scale(),
                )?;
            chart
                .configure_mesh()
                .x_desc(study.width.to_string())
                .y_desc("rms")
                .label_style(("sans-serif", 11))
                .draw()?;
            for (k, (s, pts)) in study.series.iter().zip(&points).enumerate() {
                let colour = COLOURS[k % COLOURS.len()];
                let label = match s.slope {
                    Some((b, se)) => format!("{}: slope {b:.2} ± {se:.2}", s.config),
                    None => s.config.clone(),
                };
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), colour))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
                chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
            }
            chart
                .configure_series_labels()
                .label_font(("sans-serif", 10))
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
            root.present()?;
            Ok(())
        })();
        if drawn.is_err() {
            return String::new();
        }
    }
    out.replacen("<svg ", "<svg class=\"plot\" ", 1)
}
