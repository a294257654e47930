//! A 2-D quadtree over the embedding, summarising far-away groups of points by their
//! centre of mass for the Barnes-Hut repulsive forces (van der Maaten 2014).

/// Points closer than this on every axis count as the same point (sklearn's EPSILON).
const DUPLICATE_EPS: f64 = 1e-6;
/// `sq_width` of a leaf: below any `theta^2 * d^2`, so a leaf is always taken whole.
const LEAF: f64 = -1.0;

/// A cell. Cells are stored in depth-first order, so a cell's subtree is the range
/// `index + 1 .. skip`: traversal is a forward scan that jumps over summarised subtrees,
/// with no stack.
#[derive(Debug, Clone)]
struct Node {
    com: [f64; 2],
    count: f64,
    /// Square of the widest side of the bounding box of the cell's points; `LEAF` for
    /// leaves.
    sq_width: f64,
    /// Index of the first cell after this one's subtree.
    skip: u32,
}

#[derive(Debug)]
pub(super) struct QuadTree {
    nodes: Vec<Node>,
}

impl QuadTree {
    /// Builds the tree top-down. The bounding box is grown slightly as in sklearn so that
    /// every point lies strictly inside it.
    pub fn build(points: &[[f64; 2]]) -> QuadTree {
        let mut lo = [f64::INFINITY; 2];
        let mut hi = [f64::NEG_INFINITY; 2];
        for p in points {
            for ax in 0..2 {
                lo[ax] = lo[ax].min(p[ax]);
                hi[ax] = hi[ax].max(p[ax]);
            }
        }
        for h in &mut hi {
            *h = (*h * (1.0 + 1e-3 * h.signum())).max(*h + 1e-3);
        }
        let mut tree = QuadTree {
            nodes: Vec::with_capacity(2 * points.len() + 1),
        };
        let mut idx: Vec<u32> = (0..points.len() as u32).collect();
        let mut scratch = vec![0u32; points.len()];
        if !points.is_empty() {
            tree.build_node(points, &mut idx, &mut scratch, lo, hi);
        }
        tree
    }

    fn build_node(
        &mut self,
        pts: &[[f64; 2]],
        idx: &mut [u32],
        scratch: &mut [u32],
        lo: [f64; 2],
        hi: [f64; 2],
    ) {
        let id = self.nodes.len();
        let mut com = [0.0; 2];
        let mut pmin = [f64::INFINITY; 2];
        let mut pmax = [f64::NEG_INFINITY; 2];
        for &i in idx.iter() {
            let p = pts[i as usize];
            for ax in 0..2 {
                com[ax] += p[ax];
                pmin[ax] = pmin[ax].min(p[ax]);
                pmax[ax] = pmax[ax].max(p[ax]);
            }
        }
        let count = idx.len() as f64;
        com[0] /= count;
        com[1] /= count;
        // The cell's size is the extent of its points, not of its quadrant: that is what
        // bounds the error of treating them as one mass, and it is often much smaller.
        let w0 = pmax[0] - pmin[0];
        let w1 = pmax[1] - pmin[1];
        let all_same = (0..2).all(|ax| pmax[ax] - pmin[ax] <= DUPLICATE_EPS);
        // A cell that can no longer be split in floating point also stops the recursion.
        let mid = [0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1])];
        let unsplittable = !(mid[0] > lo[0] && mid[0] < hi[0] && mid[1] > lo[1] && mid[1] < hi[1]);
        let leaf = idx.len() == 1 || all_same || unsplittable;
        self.nodes.push(Node {
            com,
            count,
            sq_width: if leaf { LEAF } else { (w0 * w0).max(w1 * w1) },
            skip: 0,
        });
        if !leaf {
            // Quadrant q has bit 0 set when right of mid on x, bit 1 when above mid on y.
            // A stable counting sort keeps the layout independent of anything but the input.
            let quad =
                |p: [f64; 2]| usize::from(p[0] >= mid[0]) | (usize::from(p[1] >= mid[1]) << 1);
            let mut counts = [0usize; 4];
            for &i in idx.iter() {
                counts[quad(pts[i as usize])] += 1;
            }
            let mut starts = [0usize; 5];
            for q in 0..4 {
                starts[q + 1] = starts[q] + counts[q];
            }
            let mut fill = starts;
            let scratch = &mut scratch[..idx.len()];
            for &i in idx.iter() {
                let q = quad(pts[i as usize]);
                scratch[fill[q]] = i;
                fill[q] += 1;
            }
            idx.copy_from_slice(scratch);
            for q in 0..4 {
                let (a, b) = (starts[q], starts[q + 1]);
                if b > a {
                    let clo = [
                        if q & 1 == 1 { mid[0] } else { lo[0] },
                        if q & 2 == 2 { mid[1] } else { lo[1] },
                    ];
                    let chi = [
                        if q & 1 == 1 { hi[0] } else { mid[0] },
                        if q & 2 == 2 { hi[1] } else { mid[1] },
                    ];
                    self.build_node(pts, &mut idx[a..b], &mut scratch[a..b], clo, chi);
                }
            }
        }
        self.nodes[id].skip = self.nodes.len() as u32;
    }

    /// Repulsive force on `point` and its contribution to the normaliser Z:
    /// returns (sum over cells of count * q^2 * (point - com), sum of count * q),
    /// q = 1 / (1 + |point - com|^2), using a cell as a whole when
    /// width^2 / dist^2 < theta^2. The point's own leaf is skipped.
    pub fn repulsion(&self, point: [f64; 2], sq_theta: f64) -> ([f64; 2], f64) {
        let mut force = [0.0; 2];
        let mut sum_q = 0.0;
        let nodes = &self.nodes[..];
        let mut i = 0;
        // Branch-free body: whether a cell is taken whole is data-dependent and defeats
        // branch prediction, so every visit computes the kernel and weighs it by 0 or
        // the cell's count (adding 0 leaves the sums bit-identical).
        while let Some(node) = nodes.get(i) {
            let dx = point[0] - node.com[0];
            let dy = point[1] - node.com[1];
            let d2 = dx * dx + dy * dy;
            let take = node.sq_width < sq_theta * d2;
            let own =
                node.sq_width == LEAF && dx.abs() <= DUPLICATE_EPS && dy.abs() <= DUPLICATE_EPS;
            let w = if take && !own { node.count } else { 0.0 };
            let q = 1.0 / (1.0 + d2);
            sum_q += w * q;
            let m = w * q * q;
            force[0] += m * dx;
            force[1] += m * dy;
            // Taken: jump past the subtree; opened: its first child follows it.
            i = if take { node.skip as usize } else { i + 1 };
        }
        (force, sum_q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    fn exact_repulsion(points: &[[f64; 2]], i: usize) -> ([f64; 2], f64) {
        let mut f = [0.0; 2];
        let mut z = 0.0;
        for (j, p) in points.iter().enumerate() {
            if j == i {
                continue;
            }
            let dx = points[i][0] - p[0];
            let dy = points[i][1] - p[1];
            let q = 1.0 / (1.0 + dx * dx + dy * dy);
            z += q;
            f[0] += q * q * dx;
            f[1] += q * q * dy;
        }
        (f, z)
    }

    fn spiral(n: usize) -> Vec<[f64; 2]> {
        (0..n)
            .map(|i| {
                let t = i as f64 * 0.37;
                [t.cos() * (1.0 + 0.05 * t), t.sin() * (1.0 + 0.05 * t) * 2.0]
            })
            .collect()
    }

    #[test]
    fn theta_zero_is_the_exact_sum() {
        let pts = spiral(200);
        let tree = QuadTree::build(&pts);
        for i in [0, 17, 199] {
            let (f, z) = tree.repulsion(pts[i], 0.0);
            let (fe, ze) = exact_repulsion(&pts, i);
            assert_abs_diff_eq!(z, ze, epsilon = 1e-12 * ze);
            assert_abs_diff_eq!(f[0], fe[0], epsilon = 1e-12);
            assert_abs_diff_eq!(f[1], fe[1], epsilon = 1e-12);
        }
    }

    #[test]
    fn theta_half_is_close_to_the_exact_sum() {
        let pts = spiral(500);
        let tree = QuadTree::build(&pts);
        for i in [3, 250, 499] {
            let (_, z) = tree.repulsion(pts[i], 0.25);
            let (_, ze) = exact_repulsion(&pts, i);
            assert!((z - ze).abs() < 0.02 * ze, "Z {z} vs exact {ze}");
        }
    }

    #[test]
    fn duplicates_share_a_leaf_and_do_not_repel_themselves() {
        let pts = vec![[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]];
        let tree = QuadTree::build(&pts);
        let (f, z) = tree.repulsion([1.0, 0.0], 0.0);
        // Two points at distance 1: q = 1/2 each.
        assert_abs_diff_eq!(z, 1.0, epsilon = 1e-15);
        assert_abs_diff_eq!(f[0], 2.0 * 0.25, epsilon = 1e-15);
        let (_, z0) = tree.repulsion([0.0, 0.0], 0.0);
        assert_abs_diff_eq!(z0, 0.5, epsilon = 1e-15);
    }
}
