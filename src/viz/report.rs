//! The run report: one self-contained HTML file. Figures are embedded as data: URIs,
//! the pipeline's DAG is inline SVG, styles are inline; nothing is fetched when it is
//! opened. Each stage's key, params and duration are listed so every number can be
//! traced to what produced it.

use super::render::Format;
use base64::Engine;
use std::fmt::Write;

/// Everything the report shows; the `report` stage fills it from upstream artifacts.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub title: String,
    /// Plain-text paragraphs under the title (blank lines separate paragraphs).
    pub intro: Option<String>,
    pub sections: Vec<Section>,
    pub dag: Dag,
    pub stages: Vec<StageInfo>,
}

#[derive(Debug, Clone, Default)]
pub struct Section {
    pub title: String,
    pub text: Option<String>,
    pub figures: Vec<EmbeddedFigure>,
    pub tables: Vec<Table>,
}

/// A rendered figure (PNG or SVG bytes from `viz::render`).
#[derive(Debug, Clone)]
pub struct EmbeddedFigure {
    pub caption: String,
    pub format: Format,
    pub bytes: Vec<u8>,
}

/// A table of already formatted cells (see [`fmt_mean_std`]).
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub caption: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct Dag {
    pub nodes: Vec<DagNode>,
    /// (from, to) stage names: `to` reads `from`'s output.
    pub edges: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct DagNode {
    pub name: String,
    pub kind: String,
}

/// Provenance of one stage in this run.
#[derive(Debug, Clone)]
pub struct StageInfo {
    pub name: String,
    pub kind: String,
    /// The stage's content hash (cache key).
    pub key: String,
    /// Its parameters, as JSON text.
    pub params: String,
    /// Seconds it ran this time; None when it was not run.
    pub duration_s: Option<f64>,
    /// Whether this run took the output from the cache; None when unknown.
    pub cached: Option<bool>,
}

/// A duration: "1.25 s", or "4.2 ms" under 0.01 s (where "0.00 s" would say nothing).
pub fn fmt_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        "–".to_string()
    } else if seconds < 0.01 {
        format!("{:.1} ms", seconds * 1000.0)
    } else {
        format!("{seconds:.2} s")
    }
}

/// "0.853 ± 0.021" with `decimals` digits; "n/a" for a non-finite mean.
pub fn fmt_mean_std(mean: f64, std: f64, decimals: usize) -> String {
    if !mean.is_finite() {
        return "n/a".to_string();
    }
    if std.is_finite() {
        format!("{mean:.decimals$} ± {std:.decimals$}")
    } else {
        format!("{mean:.decimals$}")
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

const STYLE: &str = r#"
body { font-family: "DejaVu Sans", Verdana, sans-serif; margin: 0 auto; max-width: 1500px;
       padding: 1.5em 2em 4em; color: #222; background: #fff; line-height: 1.45; }
h1 { font-size: 1.9em; border-bottom: 2px solid #2ca02c; padding-bottom: .3em; }
h2 { margin-top: 2.2em; font-size: 1.45em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #555; font-size: .92em; margin-top: .3em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .93em; }
caption { text-align: left; font-weight: bold; padding: .3em 0; }
th, td { border: 1px solid #ccc; padding: .35em .7em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: "DejaVu Sans Mono", monospace; font-size: .9em; }
pre { margin: .3em 0; white-space: pre-wrap; max-width: 60em; }
.dag { border: 1px solid #ddd; padding: .5em; }
details.params summary { cursor: pointer; color: #555; }
.model td { font-family: "DejaVu Sans Mono", monospace; font-size: .9em; }
.muted { color: #777; }
td.verdict { font-weight: bold; white-space: nowrap; }
td.supported { background: #e3f4e3; color: #1b5e20; }
td.contradicted { background: #fbe4e4; color: #8e1b1b; }
td.inconclusive { background: #f4f1e0; color: #6b5a00; }
"#;

/// Marks the page once every image has decoded (`data-images-loaded="k/n"` on <body>),
/// and records whether the DAG fits the page's width (`data-dag-fits`) and how many stage
/// boxes it shows (`data-dag-stages`), so a headless browser can check them.
const IMAGE_CHECK: &str = r#"
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-loaded", ok + "/" + imgs.length);
  var dag = document.querySelector("svg[aria-label='pipeline DAG']");
  if (dag) {
    var box = dag.getBoundingClientRect();
    var page = document.documentElement.clientWidth;
    document.body.setAttribute("data-dag-fits", box.right <= page + 0.5 ? "yes" : "no");
    document.body.setAttribute("data-dag-stages", dag.querySelectorAll("g.stage").length);
  }
  var open = document.querySelectorAll("details.params[open]").length;
  document.body.setAttribute("data-params-open", open);
});
"#;

/// The complete HTML document.
pub fn render_html(report: &Report) -> String {
    let mut h = String::new();
    let title = escape(&report.title);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    if let Some(intro) = &report.intro {
        paragraphs(&mut h, intro);
    }
    if !report.sections.is_empty() {
        h.push_str("<nav><ul>\n");
        for (i, s) in report.sections.iter().enumerate() {
            let _ = writeln!(h, "<li><a href=\"#s{i}\">{}</a></li>", escape(&s.title));
        }
        h.push_str("<li><a href=\"#pipeline\">Pipeline and provenance</a></li>\n</ul></nav>\n");
    }
    for (i, s) in report.sections.iter().enumerate() {
        let _ = writeln!(h, "<section id=\"s{i}\">\n<h2>{}</h2>", escape(&s.title));
        if let Some(t) = &s.text {
            paragraphs(&mut h, t);
        }
        for t in &s.tables {
            table(&mut h, t);
        }
        for f in &s.figures {
            figure(&mut h, f);
        }
        h.push_str("</section>\n");
    }
    h.push_str("<section id=\"pipeline\">\n<h2>Pipeline and provenance</h2>\n");
    if !report.dag.nodes.is_empty() {
        h.push_str("<div class=\"dag\">\n");
        h.push_str(&dag_svg(&report.dag));
        h.push_str("</div>\n");
        let edges = Table {
            caption: "DAG edges (stage → stage that reads its output)".into(),
            columns: vec!["From".into(), "To".into()],
            rows: report
                .dag
                .edges
                .iter()
                .map(|(a, b)| vec![a.clone(), b.clone()])
                .collect(),
        };
        table(&mut h, &edges);
    }
    stage_table(&mut h, &report.stages);
    h.push_str("</section>\n");
    let _ = write!(h, "<script>{IMAGE_CHECK}</script>\n</body>\n</html>\n");
    h
}

fn paragraphs(h: &mut String, text: &str) {
    for p in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let _ = writeln!(h, "<p>{}</p>", escape(p));
    }
}

/// Right-aligns cells that read as numbers (including "mean ± std").
fn looks_numeric(cell: &str) -> bool {
    let first = cell
        .split(" ± ")
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches('%')
        .trim_end_matches(" ms")
        .trim_end_matches(" s");
    !first.is_empty() && first.parse::<f64>().is_ok()
}

fn table(h: &mut String, t: &Table) {
    h.push_str("<table>\n");
    if !t.caption.is_empty() {
        let _ = writeln!(h, "<caption>{}</caption>", escape(&t.caption));
    }
    h.push_str("<thead><tr>");
    for c in &t.columns {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        h.push_str("<tr>");
        for cell in row {
            let class = match cell.as_str() {
                "supported" => " class=\"verdict supported\"",
                "contradicted" => " class=\"verdict contradicted\"",
                "inconclusive" => " class=\"verdict inconclusive\"",
                c if looks_numeric(c) => " class=\"num\"",
                _ => "",
            };
            let _ = write!(h, "<td{class}>{}</td>", escape(cell));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>\n");
}

fn figure(h: &mut String, f: &EmbeddedFigure) {
    let data = base64::engine::general_purpose::STANDARD.encode(&f.bytes);
    let cap = escape(&f.caption);
    let _ = writeln!(
        h,
        "<figure><img alt=\"{cap}\" src=\"data:{};base64,{data}\"><figcaption>{cap}</figcaption></figure>",
        f.format.mime()
    );
}

fn stage_table(h: &mut String, stages: &[StageInfo]) {
    h.push_str(
        "<table>\n<caption>Stages of this run</caption>\n<thead><tr><th>Stage</th><th>Kind</th>\
         <th>Key</th><th>This run</th><th>Duration</th><th>Params</th></tr></thead>\n<tbody>\n",
    );
    for s in stages {
        let duration = s.duration_s.map_or("–".to_string(), fmt_duration);
        let source = match s.cached {
            Some(true) => "cache",
            Some(false) => "ran",
            None => "–",
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{source}</td>\
             <td class=\"num\">{}</td><td><details class=\"params\"><summary>params ({} lines)</summary>\
             <pre>{}</pre></details></td></tr>",
            escape(&s.name),
            escape(&s.kind),
            escape(&s.key),
            escape(&duration),
            s.params.lines().count(),
            escape(&s.params)
        );
    }
    h.push_str("</tbody></table>\n");
}

/// The pipeline DAG as inline SVG ([`super::dag`]).
pub fn dag_svg(dag: &Dag) -> String {
    super::dag::svg(dag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_everywhere() {
        let r = Report {
            title: "a <b> & \"c\"".into(),
            sections: vec![Section {
                title: "<script>".into(),
                tables: vec![Table {
                    caption: "t".into(),
                    columns: vec!["<x>".into()],
                    rows: vec![vec!["1 < 2".into()]],
                }],
                ..Section::default()
            }],
            ..Report::default()
        };
        let html = render_html(&r);
        assert!(html.contains("<h1>a &lt;b&gt; &amp; &quot;c&quot;</h1>"));
        assert!(html.contains("<h2>&lt;script&gt;</h2>"));
        assert!(html.contains("<td>1 &lt; 2</td>"));
        assert_eq!(
            html.matches("<script>").count(),
            1,
            "only the image check script"
        );
    }

    #[test]
    fn mean_std_formatting() {
        assert_eq!(fmt_mean_std(0.85312, 0.0214, 3), "0.853 ± 0.021");
        assert_eq!(fmt_mean_std(f64::NAN, 0.1, 3), "n/a");
        assert!(looks_numeric("0.853 ± 0.021"));
        assert!(looks_numeric("1.25 s"));
        assert!(!looks_numeric("adam"));
    }

    #[test]
    fn durations_under_a_hundredth_of_a_second_print_in_ms() {
        assert_eq!(fmt_duration(0.0042), "4.2 ms");
        assert_eq!(fmt_duration(0.0), "0.0 ms");
        assert_eq!(fmt_duration(0.01), "0.01 s");
        assert_eq!(fmt_duration(1.254), "1.25 s");
        assert_eq!(fmt_duration(f64::NAN), "–");
    }
}
