//! `strata bench --report DIR`: the lab's findings as SVG plots (drawn by
//! `plotters`) and one HTML page that shows them with the figures.
//!
//! - `warmup.svg`: time per iteration against iteration, one line per
//!   strategy, on a log scale (with `--iterations`);
//! - `startup-speed.svg`: start-up against speed, one point per strategy,
//!   both on log scales: the lower left corner is the best of both worlds;
//! - `rss.svg`: peak RSS per strategy;
//! - `index.html`: the page, with the plots inline, so it is one file to
//!   open or send.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use plotters::prelude::*;

use crate::text::millis;
use crate::{Findings, Report};

/// The plots' size in pixels.
const SIZE: (u32, u32) = (720, 420);

/// One colour per strategy, in the order the lab shows them.
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// One plot: its file name, its title and its SVG text.
pub(crate) struct Plot {
    pub(crate) file: &'static str,
    pub(crate) title: &'static str,
    pub(crate) svg: String,
}

/// The plots `report` has data for, in the order the page shows them.
pub(crate) fn plots(report: &Report) -> Vec<Plot> {
    let mut plots = Vec::new();
    if let Some(svg) = warmup_plot(report) {
        plots.push(Plot { file: "warmup.svg", title: "Warm-up: time per iteration", svg });
    }
    if let Some(svg) = startup_speed_plot(report) {
        plots.push(Plot { file: "startup-speed.svg", title: "Start-up against speed", svg });
    }
    if let Some(svg) = rss_plot(report) {
        plots.push(Plot { file: "rss.svg", title: "Peak memory", svg });
    }
    plots
}

/// Write the plots and the page into `dir` (made if missing); returns the
/// files written.
pub fn write(report: &Report, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let plots = plots(report);
    let mut written = Vec::new();
    for plot in &plots {
        let path = dir.join(plot.file);
        std::fs::write(&path, &plot.svg)?;
        written.push(path);
    }
    let path = dir.join("index.html");
    std::fs::write(&path, page(report, &plots))?;
    written.push(path);
    Ok(written)
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1000.0
}

/// A log-scale axis range over `values`, from the power of ten below the
/// smallest to the one above the largest, so that every decade is labelled.
fn log_range(values: impl Iterator<Item = f64>) -> Option<std::ops::Range<f64>> {
    let (mut low, mut high) = (f64::INFINITY, 0.0f64);
    for value in values.filter(|v| v.is_finite() && *v > 0.0) {
        low = low.min(value);
        high = high.max(value);
    }
    let decade = |value: f64, round: fn(f64) -> f64| 10f64.powf(round(value.log10()));
    let (low, high) = (decade(low, f64::floor), decade(high, f64::ceil));
    (high > 0.0).then_some(low..if high > low { high } else { low * 10.0 })
}

/// A plot's whole drawing area.
type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// A chart on `root` with `caption` above it, laid out as every plot is.
fn titled<'a, 'b>(root: &'a Area<'b>, caption: &str) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64);
    builder
}

/// Draw with `plotters` into a string; a drawing error leaves no plot.
fn svg(draw: impl FnOnce(Area<'_>) -> Option<()>) -> Option<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        draw(root.clone())?;
        root.present().ok()?;
    }
    Some(text)
}

fn warmup_plot(report: &Report) -> Option<String> {
    let curves: Vec<(usize, &Findings)> =
        report.findings.iter().enumerate().filter(|(_, f)| f.warmup.is_some()).collect();
    let longest = curves.iter().filter_map(|(_, f)| Some(f.warmup.as_ref()?.times.len())).max()?;
    let range = log_range(
        curves
            .iter()
            .flat_map(|(_, f)| f.warmup.iter().flat_map(|c| c.times.iter().map(|&t| ms(t)))),
    )?;
    svg(|root| {
        let mut chart = titled(&root, "Time per iteration (one process each)")
            .build_cartesian_2d(1..longest.max(2), range.log_scale())
            .ok()?;
        chart.configure_mesh().x_desc("iteration").y_desc("ms (log scale)").draw().ok()?;
        for (index, found) in &curves {
            let Some(curve) = &found.warmup else { continue };
            let colour = colour(*index);
            let points = curve.times.iter().enumerate().map(|(i, &t)| (i + 1, ms(t)));
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .ok()?
                .label(found.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour));
            chart.draw_series(points.map(|p| Circle::new(p, 2, colour.filled()))).ok()?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .ok()
    })
}

/// A strategy's speed: with iterations, its steady iteration's time (none
/// without a steady state); without, a whole run's median wall time.
fn speed(report: &Report, found: &Findings) -> Option<Duration> {
    match report.iterations {
        Some(_) => found.warmup.as_ref()?.steady,
        None => Some(found.wall?.median),
    }
}

fn startup_speed_plot(report: &Report) -> Option<String> {
    let points: Vec<(usize, &Findings, f64, f64)> = report
        .findings
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((i, f, ms(f.startup?.median), ms(speed(report, f)?))))
        .collect();
    let x_range = log_range(points.iter().map(|p| p.2))?;
    let y_range = log_range(points.iter().map(|p| p.3))?;
    let y_desc = match report.iterations {
        Some(_) => "ms per steady iteration (log scale)",
        None => "ms per run (log scale)",
    };
    svg(|root| {
        let mut chart = titled(&root, "Start-up against speed (lower left is better)")
            .build_cartesian_2d(x_range.log_scale(), y_range.log_scale())
            .ok()?;
        chart.configure_mesh().x_desc("start-up, ms (log scale)").y_desc(y_desc).draw().ok()?;
        for (index, found, x, y) in &points {
            let point = EmptyElement::at((*x, *y))
                + Circle::new((0, 0), 6, colour(*index).filled())
                + Text::new(found.name.clone(), (9, -16), ("sans-serif", 14).into_font());
            chart.draw_series(std::iter::once(point)).ok()?;
        }
        Some(())
    })
}

fn rss_plot(report: &Report) -> Option<String> {
    let bars: Vec<(usize, &Findings, f64)> = report
        .findings
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((i, f, f.peak_rss? as f64 / (1024.0 * 1024.0))))
        .collect();
    let top = bars.iter().map(|b| b.2).fold(0.0, f64::max);
    if bars.is_empty() || top <= 0.0 {
        return None;
    }
    let names: Vec<String> = report.findings.iter().map(|f| f.name.clone()).collect();
    svg(|root| {
        let mut chart = titled(&root, "Peak RSS")
            // A segmented range has a segment for its end as well.
            .build_cartesian_2d((0..names.len() - 1).into_segmented(), 0.0..top * 1.15)
            .ok()?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("strategy")
            .y_desc("MiB")
            .x_label_formatter(&|segment| match segment {
                SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .ok()?;
        for (index, _, mib) in &bars {
            let mut bar = Rectangle::new(
                [(SegmentValue::Exact(*index), 0.0), (SegmentValue::Exact(*index + 1), *mib)],
                colour(*index).filled(),
            );
            bar.set_margin(0, 0, 12, 12);
            chart.draw_series(std::iter::once(bar)).ok()?;
        }
        Some(())
    })
}

/// `text` with the characters HTML gives a meaning escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn cell(value: Option<String>) -> String {
    format!("<td>{}</td>", escape(&value.unwrap_or_else(|| "-".to_string())))
}

/// The page: a table of the figures, then the plots, inline.
fn page(report: &Report, plots: &[Plot]) -> String {
    let program = escape(&report.program.display().to_string());
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <title>strata bench: {program}</title>\n<style>\n\
         body {{ font-family: sans-serif; margin: 2em; color: #222; }}\n\
         table {{ border-collapse: collapse; margin: 1em 0; }}\n\
         th, td {{ border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }}\n\
         th:first-child, td:first-child {{ text-align: left; }}\n\
         figure {{ margin: 1.5em 0; }}\n\
         .failed {{ color: #b00; font-weight: bold; }}\n\
         </style>\n</head>\n<body>\n<h1>strata bench: <code>{program}</code></h1>\n"
    );
    let _ = writeln!(
        html,
        "<p>{} timed runs per strategy{}.</p>",
        report.runs,
        report.iterations.map_or(String::new(), |k| format!(
            ", and {k} iterations of the top level in one process"
        ))
    );
    html.push_str(
        "<table>\n<tr><th>strategy</th><th>start-up</th><th>first output</th><th>wall</th>\
         <th>cpu</th><th>peak RSS</th><th>warm-up</th><th>steady iteration</th></tr>\n",
    );
    for found in &report.findings {
        let warmup = found.warmup.as_ref();
        let _ = writeln!(
            html,
            "<tr><td>{}</td>{}{}{}{}{}{}{}</tr>",
            escape(&found.name),
            cell(found.startup.map(|s| millis(s.median))),
            cell(found.first_output.map(|s| millis(s.median))),
            cell(found.wall.map(|s| millis(s.median))),
            cell(found.cpu.map(|s| millis(s.median))),
            cell(found.peak_rss.map(|b| format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)))),
            cell(warmup.and_then(|c| c.class).map(|class| class.name().to_string())),
            cell(warmup.and_then(|c| c.steady).map(millis)),
        );
    }
    html.push_str("</table>\n");
    for found in &report.findings {
        if let Some(failure) = &found.failure {
            let _ = writeln!(
                html,
                "<p class=\"failed\">FAILED on {}: {}</p>",
                escape(&found.name),
                escape(failure)
            );
        }
    }
    if !report.disagree.is_empty() {
        let _ = writeln!(
            html,
            "<p class=\"failed\">OUTPUT DIFFERS: {}</p>",
            escape(&report.disagree.join(", "))
        );
    }
    for plot in plots {
        let _ = write!(
            html,
            "<figure id=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
            escape(plot.file.trim_end_matches(".svg")),
            plot.svg.trim(),
            escape(plot.title)
        );
    }
    html.push_str("</body>\n</html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Summary, warmup};

    fn summary(ms: f64) -> Option<Summary> {
        let time = Duration::from_secs_f64(ms / 1000.0);
        Some(Summary { median: time, min: time, max: time, samples: 1 })
    }

    fn findings(name: &str, startup: f64, wall: f64, rss: u64, times: &[f64]) -> Findings {
        let times = times.iter().map(|&ms| Duration::from_secs_f64(ms / 1000.0)).collect();
        Findings {
            name: name.to_string(),
            startup: summary(startup),
            wall: summary(wall),
            cpu: summary(wall),
            first_output: summary(wall),
            peak_rss: Some(rss),
            warmup: Some(warmup::classify(times)),
            ..Findings::default()
        }
    }

    fn report() -> Report {
        let slow: Vec<f64> = (0..12).map(|i| 50.0 + (i % 3) as f64).collect();
        let warming: Vec<f64> = (0..12).map(|i| if i < 3 { 40.0 } else { 8.0 }).collect();
        let mut outside = findings("a<b&\"c\"", 0.0, 30.0, 2 << 20, &[]);
        outside.startup = None;
        outside.warmup = None;
        outside.failure = Some("cannot start `x <y>`".to_string());
        Report {
            program: PathBuf::from("bench/<odd> & name.lox"),
            runs: 3,
            iterations: Some(12),
            findings: vec![
                findings("vm", 1.5, 600.0, 4 << 20, &slow),
                findings("jit", 1.7, 120.0, 9 << 20, &warming),
                outside,
            ],
            disagree: vec!["a<b&\"c\"".to_string()],
            stopped: false,
        }
    }

    /// Every text node of the document, trimmed.
    fn texts<'a>(document: &'a roxmltree::Document<'_>) -> Vec<&'a str> {
        document.descendants().filter_map(|node| Some(node.text()?.trim())).collect()
    }

    #[test]
    fn the_plots_and_the_page_are_well_formed_and_show_every_strategy() {
        let dir = tempfile::tempdir().unwrap();
        let written = write(&report(), dir.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["warmup.svg", "startup-speed.svg", "rss.svg", "index.html"]);
        for path in &written {
            let text = std::fs::read_to_string(path).unwrap();
            let options = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
            let document = roxmltree::Document::parse_with_options(&text, options)
                .unwrap_or_else(|error| panic!("{}: not well-formed: {error}", path.display()));
            let shown = texts(&document);
            let file = path.file_name().unwrap().to_string_lossy();
            // The outside command has no curve and no start-up, so it is in
            // the table and the memory plot only.
            let expected: &[&str] = match &*file {
                "warmup.svg" | "startup-speed.svg" => &["vm", "jit"],
                _ => &["vm", "jit", "a<b&\"c\""],
            };
            for name in expected {
                assert!(shown.contains(name), "{file} does not show {name}: {shown:?}");
            }
        }
        let page = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
        assert_eq!(page.matches("<svg").count(), 3, "the three plots inline");
        assert!(page.contains("FAILED on a&lt;b&amp;&quot;c&quot;: cannot start `x &lt;y&gt;`"));
        assert!(page.contains("<td>warm-up</td>"), "jit's curve is classified: {page}");
    }

    #[test]
    fn without_iterations_there_is_no_warm_up_plot() {
        let mut report = report();
        report.iterations = None;
        for found in &mut report.findings {
            found.warmup = None;
        }
        let dir = tempfile::tempdir().unwrap();
        let written = write(&report, dir.path()).unwrap();
        assert!(!written.iter().any(|path| path.ends_with("warmup.svg")));
        assert!(written.iter().any(|path| path.ends_with("startup-speed.svg")));
    }
}
