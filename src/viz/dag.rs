//! The report's pipeline DAG, laid out by layout-rs (a layered, Graphviz-`dot`-style layout:
//! ranks, crossing reduction, long edges routed through empty slots between nodes) and drawn
//! as inline SVG, top to bottom or, when that is wider than the page, left to right (the
//! study's pipeline: a dozen training stages in one rank). [`layout`] returns every node's box
//! and every edge's path, so tests can check that each stage is drawn and no edge crosses a
//! node it does not connect.

use layout::core::base::Orientation;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::StyleAttr;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;
use std::collections::BTreeMap;
use std::fmt::Write;

use super::geom::{text_width, Rect};
use super::report::{escape, Dag};

const NAME_FONT: f64 = 14.0;
const KIND_FONT: f64 = 11.0;
const BOX_H: f64 = 44.0;
const PAD: f64 = 10.0;

/// One drawn edge: its ends (stage names), its SVG path, and points along it.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgePath {
    pub from: String,
    pub to: String,
    pub d: String,
    pub samples: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DagLayout {
    pub width: f64,
    pub height: f64,
    /// (name, kind, box) of every stage.
    pub nodes: Vec<(String, String, Rect)>,
    pub edges: Vec<EdgePath>,
}

/// Collects what layout-rs draws: node boxes (matched to names by their label) and edges.
#[derive(Default)]
struct Recorder {
    last_rect: Option<Rect>,
    boxes: Vec<(String, Rect)>,
    arrows: Vec<Vec<(Point, Point)>>,
}

impl RenderBackend for Recorder {
    fn draw_rect(
        &mut self,
        xy: Point,
        size: Point,
        _: &StyleAttr,
        _: Option<String>,
        _: Option<ClipHandle>,
    ) {
        self.last_rect = Some(Rect::new(xy.x, xy.y, xy.x + size.x, xy.y + size.y));
    }

    fn draw_line(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_circle(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_text(&mut self, _: Point, text: &str, _: &StyleAttr) {
        if let Some(r) = self.last_rect.take() {
            self.boxes.push((text.to_string(), r));
        }
    }

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        _: bool,
        _: (bool, bool),
        _: &StyleAttr,
        _: Option<String>,
        _: &str,
    ) {
        self.arrows.push(path.to_vec());
    }

    fn create_clip(&mut self, _: Point, _: Point, _: usize) -> ClipHandle {
        0
    }
}

fn cubic(p0: (f64, f64), c1: (f64, f64), c2: (f64, f64), p1: (f64, f64), t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    let f = |a: f64, b: f64, c: f64, d: f64| {
        u * u * u * a + 3.0 * u * u * t * b + 3.0 * u * t * t * c + t * t * t * d
    };
    (f(p0.0, c1.0, c2.0, p1.0), f(p0.1, c1.1, c2.1, p1.1))
}

/// The widest DAG that fits the report's content column at 1400 px without shrinking:
/// 1400 px less the body's 2em padding each side and the `.dag` box's padding and border.
pub const MAX_WIDTH: f64 = 1300.0;

/// Lays the DAG out top to bottom (sources at the top) when that fits [`MAX_WIDTH`]; else
/// left to right (sources at the left), where a rank of many stages (the study's training
/// stages) stacks down the page instead of running off its side, if that is narrower.
pub fn layout(dag: &Dag) -> DagLayout {
    let tb = layout_in(dag, Orientation::TopToBottom);
    if tb.width <= MAX_WIDTH {
        return tb;
    }
    let lr = layout_in(dag, Orientation::LeftToRight);
    if lr.width < tb.width {
        lr
    } else {
        tb
    }
}

/// The layout in one direction. Routing works in the "rank frame", where ranks are
/// horizontal bands stacked downwards: the page's frame when top to bottom, its transpose
/// when left to right.
fn layout_in(dag: &Dag, dir: Orientation) -> DagLayout {
    let mut vg = VisualGraph::new(dir);
    let mut handles = BTreeMap::new();
    for n in &dag.nodes {
        let w = text_width(&n.name, NAME_FONT)
            .max(text_width(&n.kind, KIND_FONT))
            .max(60.0)
            + 2.0 * PAD;
        let el = Element::create(
            ShapeKind::new_box(&n.name),
            StyleAttr::simple(),
            dir,
            Point::new(w, BOX_H),
        );
        let h = vg.add_node(el);
        handles.insert(n.name.clone(), h);
    }
    for (a, b) in &dag.edges {
        if let (Some(&x), Some(&y)) = (handles.get(a), handles.get(b)) {
            vg.add_edge(Arrow::simple(""), x, y);
        }
    }
    let mut rec = Recorder::default();
    if !dag.nodes.is_empty() {
        vg.do_it(false, false, false, &mut rec);
    }
    let flip = dir.is_left_right();
    // Page <-> rank frame (a transpose is its own inverse).
    let t = |p: (f64, f64)| if flip { (p.1, p.0) } else { p };
    let tr = |r: &Rect| {
        if flip {
            Rect::new(r.y0, r.x0, r.y1, r.x1)
        } else {
            *r
        }
    };
    // Shift everything to start at (PAD, PAD).
    let mut lo = (f64::INFINITY, f64::INFINITY);
    let mut hi = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let mut grow = |(x, y): (f64, f64)| {
        lo = (lo.0.min(x), lo.1.min(y));
        hi = (hi.0.max(x), hi.1.max(y));
    };
    for (_, r) in &rec.boxes {
        let r = tr(r);
        grow((r.x0, r.y0));
        grow((r.x1, r.y1));
    }
    for a in &rec.arrows {
        for (p, q) in a {
            grow(t((p.x, p.y)));
            grow(t((q.x, q.y)));
        }
    }
    if !lo.0.is_finite() {
        lo = (0.0, 0.0);
        hi = (0.0, 0.0);
    }
    let off = (PAD - lo.0, PAD - lo.1);
    let kind: BTreeMap<&str, &str> = dag
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.kind.as_str()))
        .collect();
    let nodes: Vec<(String, String, Rect)> = rec
        .boxes
        .iter()
        .map(|(name, r)| {
            let r = tr(r);
            (
                name.clone(),
                kind.get(name.as_str()).unwrap_or(&"").to_string(),
                Rect::new(r.x0 + off.0, r.y0 + off.1, r.x1 + off.0, r.y1 + off.1),
            )
        })
        .collect();
    let nearest = |pt: (f64, f64)| {
        nodes
            .iter()
            .min_by(|a, b| dist(&a.2, pt).total_cmp(&dist(&b.2, pt)))
            .map(|n| n.0.clone())
            .unwrap_or_default()
    };
    let boxes: BTreeMap<&str, Rect> = nodes.iter().map(|n| (n.0.as_str(), n.2)).collect();
    // The ranks' bands, where boxes (and layout-rs's connector slots) sit: the union of
    // the boxes that overlap (left to right, a rank's boxes differ in depth).
    let mut spans: Vec<(f64, f64)> = nodes.iter().map(|n| (n.2.y0, n.2.y1)).collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut bands: Vec<(f64, f64)> = Vec::new();
    for (top, bottom) in spans {
        match bands.last_mut() {
            Some(last) if top <= last.1 => last.1 = last.1.max(bottom),
            _ => bands.push((top, bottom)),
        }
    }
    let band_of = |y: f64| {
        bands
            .iter()
            .copied()
            .find(|b| y >= b.0 - 1.0 && y <= b.1 + 1.0)
            .unwrap_or((y, y))
    };
    // Each edge: layout-rs's waypoints (the connector slots a long edge passes through),
    // redrawn as strokes straight along the rank axis through those slots (and out of and
    // into the end boxes' bands), joined by cubics whose tangents follow the rank axis. A
    // cubic between two ranks stays in the gap between them, and a slot holds no box, so
    // no edge crosses a stage.
    let raw: Vec<RawEdge> = rec
        .arrows
        .iter()
        .filter(|a| a.len() >= 2)
        .map(|a| {
            let shift = |q: &Point| {
                let (x, y) = t((q.x, q.y));
                (x + off.0, y + off.1)
            };
            let pts: Vec<(f64, f64)> = std::iter::once(shift(&a[0].0))
                .chain(a[1..].iter().map(|q| shift(&q.1)))
                .collect();
            let from = nearest(pts[0]);
            let to = nearest(*pts.last().expect("two points"));
            (from, to, pts[1..pts.len() - 1].to_vec())
        })
        .collect();
    // Spread the ends of several edges along a box's bottom (out) and top (in) edge.
    let spread = |name: &str, side_in: bool| -> Vec<usize> {
        let mut idx: Vec<usize> = (0..raw.len())
            .filter(|&i| {
                if side_in {
                    raw[i].1 == name
                } else {
                    raw[i].0 == name
                }
            })
            .collect();
        let key = |i: usize| {
            let (f, t, mid) = &raw[i];
            let other = if side_in {
                mid.last()
                    .map(|p| p.0)
                    .or_else(|| boxes.get(f.as_str()).map(|r| (r.x0 + r.x1) / 2.0))
            } else {
                mid.first()
                    .map(|p| p.0)
                    .or_else(|| boxes.get(t.as_str()).map(|r| (r.x0 + r.x1) / 2.0))
            };
            other.unwrap_or(0.0)
        };
        idx.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
        idx
    };
    let port = |name: &str, i: usize, side_in: bool| -> (f64, f64) {
        let r = boxes
            .get(name)
            .copied()
            .unwrap_or(Rect::new(0.0, 0.0, 0.0, 0.0));
        let order = spread(name, side_in);
        let k = order.iter().position(|&j| j == i).unwrap_or(0);
        let x = r.x0 + r.width() * (k + 1) as f64 / (order.len() + 1) as f64;
        (x, if side_in { r.y0 } else { r.y1 })
    };
    let edges = raw
        .iter()
        .enumerate()
        .map(|(i, (from, to, mid))| {
            let start = port(from, i, false);
            let end = port(to, i, true);
            let (_, start_band_end) = band_of(start.1);
            let (end_band_start, _) = band_of(end.1);
            let mut way = vec![start, (start.0, start_band_end)];
            // Every rank strictly between the two ends gets a slot: layout-rs's connector
            // when it made one, else a point on the way, stepped beside any box there.
            let inner: Vec<(f64, f64)> = bands
                .iter()
                .copied()
                .filter(|b| b.0 > start_band_end + 1.0 && b.1 < end_band_start - 1.0)
                .collect();
            for (k, &(top, bottom)) in inner.iter().enumerate() {
                let given = mid.iter().find(|p| p.1 >= top - 1.0 && p.1 <= bottom + 1.0);
                let t = (k + 1) as f64 / (inner.len() + 1) as f64;
                let mut x = given.map_or(start.0 + (end.0 - start.0) * t, |p| p.0);
                // A slot too close to a box: step beside the box.
                for _ in 0..6 {
                    let hit = nodes.iter().find(|n| {
                        n.2.y0 < bottom && n.2.y1 > top && x >= n.2.x0 - 6.0 && x <= n.2.x1 + 6.0
                    });
                    let Some(n) = hit else { break };
                    x = if x - n.2.x0 < n.2.x1 - x {
                        n.2.x0 - 10.0
                    } else {
                        n.2.x1 + 10.0
                    };
                }
                way.push((x, top));
                way.push((x, bottom));
            }
            way.push((end.0, end_band_start));
            way.push(end);
            way.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9);
            let page = |p: (f64, f64)| t(p);
            let (x0, y0) = page(way[0]);
            let mut d = format!("M{x0:.1},{y0:.1}");
            let mut samples = Vec::new();
            for w in way.windows(2) {
                let (a, b) = (w[0], w[1]);
                if (a.0 - b.0).abs() < 1e-9 {
                    // Straight along the rank axis, through a band.
                    let (bx, by) = page(b);
                    let _ = write!(d, " L{bx:.1},{by:.1}");
                    samples
                        .extend((0..=10).map(|k| page((a.0, a.1 + (b.1 - a.1) * k as f64 / 10.0))));
                } else {
                    let my = (a.1 + b.1) / 2.0;
                    let (c1, c2) = ((a.0, my), (b.0, my));
                    let [p1, p2, p3] = [page(c1), page(c2), page(b)];
                    let _ = write!(
                        d,
                        " C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                        p1.0, p1.1, p2.0, p2.1, p3.0, p3.1
                    );
                    samples.extend((0..=20).map(|k| page(cubic(a, c1, c2, b, k as f64 / 20.0))));
                }
            }
            EdgePath {
                from: from.clone(),
                to: to.clone(),
                d,
                samples,
            }
        })
        .collect::<Vec<EdgePath>>();
    let nodes: Vec<(String, String, Rect)> =
        nodes.into_iter().map(|(n, k, r)| (n, k, tr(&r))).collect();
    // The drawing's extent, boxes and strokes (a stroke stepped beside a box may reach
    // past layout-rs's own extent).
    let (mut width, mut height) = t((hi.0 - lo.0 + 2.0 * PAD, hi.1 - lo.1 + 2.0 * PAD));
    for (_, _, r) in &nodes {
        width = width.max(r.x1 + PAD);
        height = height.max(r.y1 + PAD);
    }
    for e in &edges {
        for &(x, y) in &e.samples {
            width = width.max(x + PAD);
            height = height.max(y + PAD);
        }
    }
    DagLayout {
        width,
        height,
        nodes,
        edges,
    }
}

/// (from, to, the connector points layout-rs routed the edge through).
type RawEdge = (String, String, Vec<(f64, f64)>);

/// Distance from a point to a box (0 inside).
fn dist(r: &Rect, (x, y): (f64, f64)) -> f64 {
    let dx = (r.x0 - x).max(0.0).max(x - r.x1);
    let dy = (r.y0 - y).max(0.0).max(y - r.y1);
    (dx * dx + dy * dy).sqrt()
}

/// The DAG as inline SVG: it keeps its size on a wide page and shrinks to the page's
/// width on a narrow one (`max-width: 100%`, the viewBox scales it).
pub fn svg(dag: &Dag) -> String {
    let l = layout(dag);
    let (w, h) = (l.width, l.height);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
         viewBox=\"0 0 {w:.0} {h:.0}\" style=\"max-width:100%;height:auto\" role=\"img\" \
         aria-label=\"pipeline DAG\" data-stages=\"{}\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" \
         markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>",
        l.nodes.len()
    );
    for e in &l.edges {
        let _ = writeln!(
            s,
            "<path d=\"{}\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.5\" \
             marker-end=\"url(#arrow)\"><title>{} → {}</title></path>",
            e.d,
            escape(&e.from),
            escape(&e.to)
        );
    }
    for (name, kind, r) in &l.nodes {
        let cx = (r.x0 + r.x1) / 2.0;
        let _ = writeln!(
            s,
            "<g class=\"stage\" data-stage=\"{n}\"><title>{n} (kind {k})</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"6\" \
             fill=\"#eef6ee\" stroke=\"#2ca02c\"/>\
             <text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"{NAME_FONT}\" font-weight=\"bold\">{n}</text>\
             <text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"{KIND_FONT}\" fill=\"#555\">{k}</text></g>",
            r.x0,
            r.y0,
            r.width(),
            r.height(),
            r.y0 + 19.0,
            r.y0 + 35.0,
            k = escape(kind),
            n = escape(name),
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viz::report::DagNode;

    /// The report pipeline's shape: one source, two features, many training stages, their
    /// evaluations, t-SNE, claims, figures, the report; edges skip ranks.
    pub(crate) fn study_dag() -> Dag {
        let mut nodes = vec![("data", "ingest_csv"), ("e5", "e5"), ("tfidf", "tfidf")];
        let trains = [
            "optimizers",
            "optimizers_tfidf",
            "size_25",
            "size_50",
            "size_75",
            "one_layer",
            "deep",
            "overfit",
            "underfit",
            "grid",
            "tsne_runs",
        ];
        let evals = [
            "eval_optimizers",
            "eval_representation",
            "eval_size",
            "eval_depth",
            "eval_fit",
            "eval_grid",
        ];
        nodes.extend(trains.iter().map(|t| (*t, "train")));
        nodes.extend(evals.iter().map(|t| (*t, "evaluate")));
        nodes.extend([
            ("tsne", "tsne"),
            ("claims", "claims"),
            ("figures", "plot"),
            ("report", "report"),
        ]);
        let mut edges = vec![("data", "e5"), ("data", "tfidf")];
        for t in trains {
            edges.push((
                if t == "optimizers_tfidf" {
                    "tfidf"
                } else {
                    "e5"
                },
                t,
            ));
            edges.push((t, "figures"));
        }
        for (e, srcs) in [
            ("eval_optimizers", &["optimizers"][..]),
            ("eval_representation", &["optimizers", "optimizers_tfidf"]),
            (
                "eval_size",
                &["size_25", "size_50", "size_75", "optimizers"],
            ),
            ("eval_depth", &["one_layer", "optimizers", "deep"]),
            ("eval_fit", &["overfit", "underfit"]),
            ("eval_grid", &["grid"]),
        ] {
            edges.push(("data", e));
            for s in srcs {
                edges.push((s, e));
            }
            edges.push((e, "claims"));
            edges.push((e, "figures"));
            edges.push((e, "report"));
        }
        edges.extend([
            ("tsne_runs", "tsne"),
            ("tsne", "figures"),
            ("tsne", "report"),
            ("claims", "report"),
            ("figures", "report"),
            ("optimizers", "report"),
        ]);
        Dag {
            nodes: nodes
                .into_iter()
                .map(|(n, k)| DagNode {
                    name: n.into(),
                    kind: k.into(),
                })
                .collect(),
            edges: edges
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        }
    }

    #[test]
    fn every_stage_is_drawn_and_no_edge_crosses_a_stage_it_does_not_connect() {
        let dag = study_dag();
        let l = layout(&dag);
        if let Ok(dir) = std::env::var("QA_PIPE_FIGURE_DIR") {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(format!("{dir}/dag.svg"), svg(&dag)).unwrap();
        }
        assert_drawn_clear(&dag, &l);
        let svg = svg(&dag);
        assert!(svg.contains("max-width:100%"));
        assert_eq!(svg.matches("class=\"stage\"").count(), dag.nodes.len());
    }

    /// Every stage drawn, every edge drawn between its own stages, no edge sample inside a
    /// box it does not connect, no two boxes overlapping, and everything inside the SVG.
    fn assert_drawn_clear(dag: &Dag, l: &DagLayout) {
        let mut drawn: Vec<&str> = l.nodes.iter().map(|n| n.0.as_str()).collect();
        drawn.sort();
        let mut want: Vec<&str> = dag.nodes.iter().map(|n| n.name.as_str()).collect();
        want.sort();
        assert_eq!(drawn, want, "every stage has a box");
        assert_eq!(l.edges.len(), dag.edges.len(), "every edge is drawn");
        for e in &l.edges {
            assert!(dag.edges.contains(&(e.from.clone(), e.to.clone())));
            for (name, _, r) in &l.nodes {
                if *name == e.from || *name == e.to {
                    continue;
                }
                let inner = r.inflate(-2.0);
                let hit = e.samples.windows(2).any(|w| inner.hits_segment(w[0], w[1]));
                assert!(!hit, "edge {} -> {} crosses stage {name}", e.from, e.to);
            }
            for &(x, y) in &e.samples {
                assert!(x >= 0.0 && y >= 0.0 && x <= l.width && y <= l.height);
            }
        }
        for (i, a) in l.nodes.iter().enumerate() {
            assert!(a.2.x0 >= 0.0 && a.2.x1 <= l.width && a.2.y1 <= l.height);
            for b in &l.nodes[i + 1..] {
                assert!(!a.2.intersects(&b.2), "{} overlaps {}", a.0, b.0);
            }
        }
    }

    /// pipelines/report.yaml's DAG as the report draws it: every stage, an edge per input.
    fn report_yaml_dag() -> Dag {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let p = crate::config::load(&root.join("pipelines/report.yaml"), root, &BTreeMap::new())
            .expect("pipelines/report.yaml loads");
        let mut edges: Vec<(String, String)> = p
            .stages
            .iter()
            .flat_map(|s| s.inputs.iter().map(|i| (i.stage.clone(), s.name.clone())))
            .collect();
        edges.sort();
        edges.dedup();
        Dag {
            nodes: p
                .stages
                .iter()
                .map(|s| DagNode {
                    name: s.name.clone(),
                    kind: s.kind.clone(),
                })
                .collect(),
            edges,
        }
    }

    /// Regression (issue 13): the report.yaml DAG was 2,387 px wide and only fitted the
    /// 1400 px page by shrinking its text to about half size.
    #[test]
    fn report_yaml_dag_fits_the_page_at_normal_scale_with_every_stage_and_clear_edges() {
        let dag = report_yaml_dag();
        assert!(dag.nodes.len() >= 24 && dag.edges.len() >= 60, "{dag:?}");
        let l = layout(&dag);
        if let Ok(dir) = std::env::var("QA_PIPE_FIGURE_DIR") {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(format!("{dir}/dag_report_yaml.svg"), svg(&dag)).unwrap();
        }
        assert!(
            l.width <= MAX_WIDTH,
            "report.yaml's DAG is {:.0} px wide, the page {MAX_WIDTH}",
            l.width
        );
        assert_drawn_clear(&dag, &l);
        // The stage order the report passes (topological) must not matter either.
        let mut reversed = dag.clone();
        reversed.nodes.reverse();
        let r = layout(&reversed);
        assert!(r.width <= MAX_WIDTH, "{:.0}", r.width);
        assert_drawn_clear(&reversed, &r);
        // Full names and kinds in each box's tooltip.
        let svg = svg(&dag);
        assert!(svg.contains("<title>eval_representation (kind evaluate)</title>"));
    }

    /// A small DAG stays top to bottom.
    #[test]
    fn a_narrow_dag_is_drawn_top_to_bottom() {
        let node = |n: &str| DagNode {
            name: n.into(),
            kind: "k".into(),
        };
        let dag = Dag {
            nodes: vec![node("a"), node("b"), node("c")],
            edges: vec![("a".into(), "b".into()), ("b".into(), "c".into())],
        };
        let l = layout(&dag);
        let y = |n: &str| l.nodes.iter().find(|x| x.0 == n).unwrap().2.y0;
        assert!(y("a") < y("b") && y("b") < y("c"), "{l:?}");
        assert_drawn_clear(&dag, &l);
    }
}
