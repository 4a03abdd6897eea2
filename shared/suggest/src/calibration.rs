//! From evidence to a probability: a logistic model over the per-signal strengths, fitted on
//! the labelled alerts (tests/data/suggest/labelled.jsonl) with non-negative weights, so that
//! more evidence never lowers a score.
//!
//! The score of a candidate technique is
//!
//! ```text
//! p_model = 1 / (1 + exp(-(bias + sum_i weight_i * feature_i)))
//! score   = 1 - (1 - p_model) * (1 - p_id)
//! ```
//!
//! where the features are the per-signal strengths of [`Features`] (each in 0..=1) and `p_id`
//! is the fixed confidence of an explicit ATT&CK ID in the text ([`ID_CONFIDENCE`],
//! [`REVOKED_ID_CONFIDENCE`]): the labelled set has no alert that names an ID, so that part is
//! a stated prior, not a fit. The constants of [`DEFAULT_CALIBRATION`] and
//! [`DEFAULT_THRESHOLD`] are printed by `cargo run --release -p mitre-suggest --example bench`,
//! which fits them on the whole labelled set and reports the figures of held-out fits.

/// Number of features of the model.
pub const N_FEATURES: usize = 10;

/// Names of the features, in order (for reports).
pub const FEATURE_NAMES: [&str; N_FEATURES] =
    ["rule", "named", "named_procedure", "procedure_rel", "procedure_abs", "description_rel", "description_abs", "example_rel", "example_abs", "agreement"];

/// The strength of each signal for one candidate technique, each in 0..=1.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Features {
    /// Noisy-OR of the weights of the rules that matched, `1 - prod(1 - weight)`.
    pub rule: f64,
    /// The largest specificity of the technique among the named software, groups and
    /// campaigns that use it: `ln(1 + N / n_t) / ln(1 + N)` with N the live software (for a
    /// software) or groups (for a group or campaign) that use any technique and n_t those that
    /// use this one. Software and groups share one feature (and one weight): the labelled set
    /// names no group, so a separate group weight could not be fitted.
    pub named: f64,
    /// How well the alert matches the named entity's own procedure example for this
    /// technique: its BM25 score over the best procedure score of the request.
    pub named_procedure: f64,
    /// Procedure-example and detection-strategy similarity (BM25, top three documents of the
    /// technique weighted 1, 1/2, 1/4) over the best technique's.
    pub procedure_rel: f64,
    /// The same, absolute: `s / (s + 12)`.
    pub procedure_abs: f64,
    /// Name-and-description similarity (BM25) over the best technique's.
    pub description_rel: f64,
    /// The same, absolute: `s / (s + 12)`.
    pub description_abs: f64,
    /// Similarity (BM25) to the technique's profile learned from labelled examples (see
    /// [`crate::examples`]) over the best technique's.
    pub example_rel: f64,
    /// The same, absolute: `s / (s + 12)`.
    pub example_abs: f64,
    /// How many of the three text similarities (procedure examples and detection strategies,
    /// name and description, labelled examples) rank the technique first, over three: signals
    /// built from different texts agreeing is what a right suggestion looks like on texts no
    /// one fitted the engine on.
    pub agreement: f64,
}

impl Features {
    pub fn from_array(x: [f64; N_FEATURES]) -> Features {
        Features {
            rule: x[0],
            named: x[1],
            named_procedure: x[2],
            procedure_rel: x[3],
            procedure_abs: x[4],
            description_rel: x[5],
            description_abs: x[6],
            example_rel: x[7],
            example_abs: x[8],
            agreement: x[9],
        }
    }

    pub fn to_array(&self) -> [f64; N_FEATURES] {
        [
            self.rule,
            self.named,
            self.named_procedure,
            self.procedure_rel,
            self.procedure_abs,
            self.description_rel,
            self.description_abs,
            self.example_rel,
            self.example_abs,
            self.agreement,
        ]
    }
}

/// Saturation constant of the absolute BM25 features.
pub const BM25_SATURATION: f64 = 12.0;

/// Confidence of a current ATT&CK ID written in the alert.
pub const ID_CONFIDENCE: f64 = 0.95;
/// Confidence of the replacement of a revoked ATT&CK ID written in the alert.
pub const REVOKED_ID_CONFIDENCE: f64 = 0.85;

/// A fitted logistic model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub bias: f64,
    pub weights: [f64; N_FEATURES],
}

/// The model shipped: [`Calibration::fit`] on the candidates of four labelled sources (Atomic
/// Red Team tests, TRAM sentences, CAR analytics, the project's labelled alerts; at most 600
/// items each), each item's features computed by an engine whose example profiles were
/// learned without its own source (L2 penalty 1.0 on the weights, weights constrained to be
/// non-negative, Newton's method), as printed by `make bench-suggest`. Weights in the order of
/// [`FEATURE_NAMES`].
pub const DEFAULT_CALIBRATION: Calibration =
    Calibration { bias: -6.8139, weights: [4.5950, 0.8020, 0.6420, 3.6948, 0.0, 1.1658, 0.1621, 0.2694, 0.5794, 2.2960] };

/// The auto-mapping threshold shipped, chosen on sources the engine never saw: in `make
/// bench-suggest`, each labelled source in turn is left out of the example profiles and of the
/// calibration, and scored; 0.51 is the lowest score (0.503, rounded up) from which the
/// pooled auto-mapping precision of the left-out detection content (CAR analytics with their
/// queries and the project's alerts, each weighed equally) stays at least 0.9, with
/// enrichment's policy of mapping an alert's best suggestion only
/// ([`crate::feedback::Feedback::decide_all`]). At 0.5 the left-out precision and coverage
/// (share of items with a mapping) were 0.903 / 0.62 for CAR, 0.892 / 0.67 for the alerts,
/// 0.641 / 0.21 for TRAM's report sentences and 0.497 / 0.57 for Atomic Red Team's commands
/// (whose label names the one technique a test demonstrates, while its commands often exercise
/// others).
pub const DEFAULT_THRESHOLD: f64 = 0.51;

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Calibration {
    /// The model's probability for these features.
    pub fn probability(&self, f: &Features) -> f64 {
        let x = f.to_array();
        sigmoid(self.bias + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>())
    }

    /// The score: the model's probability combined (noisy-OR) with the confidence of an
    /// explicit ID (0 when the alert names none).
    pub fn score(&self, f: &Features, id_confidence: f64) -> f64 {
        let p = self.probability(f);
        (1.0 - (1.0 - p) * (1.0 - id_confidence.clamp(0.0, 1.0))).clamp(0.0, 1.0)
    }

    /// Fits the model on labelled feature vectors in two stages (each by [`fit_logistic`]):
    ///
    /// 1. the catalog evidence: a logistic model over every feature but `rule`, fitted on
    ///    all candidates as if the rule table did not exist, `z_ev = a0 + sum a_i f_i`;
    /// 2. Platt scaling of that evidence together with the rule table:
    ///    `z = b0 + b1 * z_ev + b2 * rule` (b1, b2 >= 0).
    ///
    /// The result is one linear model (`bias = b0 + b1 a0`, `weight_i = b1 a_i`, `weight_rule
    /// = b2`). Fitting all features at once would let the rule table, written together with
    /// the labelled alerts, explain away the software and group signals that alerts without a
    /// matching rule need; the first stage keeps their relative weights.
    pub fn fit(examples: &[(Features, bool)], l2: f64) -> Calibration {
        let ys: Vec<bool> = examples.iter().map(|(_, y)| *y).collect();
        let evidence: Vec<Vec<f64>> = examples.iter().map(|(f, _)| f.to_array()[1..].to_vec()).collect();
        let (a0, a) = fit_logistic(&evidence, &ys, l2);
        let stage2: Vec<Vec<f64>> =
            examples.iter().zip(&evidence).map(|((f, _), x)| vec![a0 + a.iter().zip(x).map(|(w, v)| w * v).sum::<f64>(), f.rule]).collect();
        let (b0, b) = fit_logistic(&stage2, &ys, l2);
        let mut weights = [0.0; N_FEATURES];
        weights[0] = b[1];
        for (k, w) in a.iter().enumerate() {
            weights[k + 1] = b[0] * w;
        }
        Calibration { bias: b0 + b[0] * a0, weights }
    }
}

/// Solves `a x = b` (a small dense symmetric positive definite system) by Gaussian elimination
/// with partial pivoting. None when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let (top, rest) = a.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for (k, r) in rest.iter_mut().enumerate() {
            let f = r[col] / pivot_row[col];
            if f != 0.0 {
                for (x, p) in r[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= f * p;
                }
                b[col + 1 + k] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// Penalised negative log-likelihood.
fn loss(xs: &[Vec<f64>], ys: &[bool], l2: f64, bias: f64, w: &[f64]) -> f64 {
    let mut l = 0.0;
    for (x, &y) in xs.iter().zip(ys) {
        let z = bias + w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
        // log(1 + exp(-z)) for y, log(1 + exp(z)) otherwise, computed stably
        let m = if y { -z } else { z };
        l += if m > 0.0 { m + (-m).exp().ln_1p() } else { m.exp().ln_1p() };
    }
    l + 0.5 * l2 * w.iter().map(|v| v * v).sum::<f64>()
}

/// Logistic regression with an L2 penalty `l2` on the weights (not the bias) and weights
/// constrained to be non-negative: projected Newton steps with an active set and a
/// backtracking line search. Returns (bias, weights).
pub fn fit_logistic(xs: &[Vec<f64>], ys: &[bool], l2: f64) -> (f64, Vec<f64>) {
    let d = xs.first().map_or(0, Vec::len);
    let mut bias = {
        let pos = ys.iter().filter(|&&y| y).count() as f64;
        let n = ys.len() as f64;
        ((pos + 0.5) / (n - pos + 0.5)).ln()
    };
    let mut w = vec![0.0; d];
    let mut current = loss(xs, ys, l2, bias, &w);
    for _ in 0..100 {
        // gradient and Hessian over (bias, w)
        let mut g = vec![0.0; d + 1];
        let mut h = vec![vec![0.0; d + 1]; d + 1];
        for (x, &y) in xs.iter().zip(ys) {
            let z = bias + w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
            let p = sigmoid(z);
            let r = p - if y { 1.0 } else { 0.0 };
            let s = p * (1.0 - p);
            // the extended row (1, x)
            let xe: Vec<f64> = std::iter::once(1.0).chain(x.iter().copied()).collect();
            for (i, &xi) in xe.iter().enumerate() {
                if xi == 0.0 {
                    continue;
                }
                g[i] += r * xi;
                for (hij, &xj) in h[i][i..].iter_mut().zip(&xe[i..]) {
                    *hij += s * xi * xj;
                }
            }
        }
        for i in 0..=d {
            let (upper, lower) = h.split_at_mut(i);
            for (j, row) in upper.iter().enumerate() {
                lower[0][j] = row[i];
            }
        }
        for i in 1..=d {
            g[i] += l2 * w[i - 1];
            h[i][i] += l2 + 1e-9;
        }
        h[0][0] += 1e-9;
        // free variables: the bias, and weights not held at zero by a gradient pushing them below
        let free: Vec<usize> = (0..=d).filter(|&i| i == 0 || w[i - 1] > 0.0 || g[i] < 0.0).collect();
        let a: Vec<Vec<f64>> = free.iter().map(|&i| free.iter().map(|&j| h[i][j]).collect()).collect();
        let b: Vec<f64> = free.iter().map(|&i| g[i]).collect();
        let Some(step) = solve(a, b) else { break };
        let mut t = 1.0;
        let mut improved = false;
        for _ in 0..30 {
            let mut nb = bias;
            let mut nw = w.clone();
            for (k, &i) in free.iter().enumerate() {
                if i == 0 {
                    nb -= t * step[k];
                } else {
                    nw[i - 1] = (nw[i - 1] - t * step[k]).max(0.0);
                }
            }
            let l = loss(xs, ys, l2, nb, &nw);
            if l < current - 1e-12 {
                let gain = current - l;
                bias = nb;
                w = nw;
                current = l;
                improved = gain > 1e-9;
                break;
            }
            t *= 0.5;
        }
        if !improved {
            break;
        }
    }
    (bias, w)
}

/// The lowest threshold at which auto-mapping keeps a precision of at least `target`: scanning
/// the scored predictions from the highest score down, the precision of "every prediction
/// scoring at least s" must stay at or above `target` from the `min_support`-th prediction
/// on down to s. `predictions` are (score, correct). None when no threshold reaches it.
pub fn lowest_threshold(predictions: &[(f64, bool)], target: f64, min_support: usize) -> Option<f64> {
    let weighted: Vec<(f64, bool, f64)> = predictions.iter().map(|&(s, ok)| (s, ok, 1.0)).collect();
    lowest_threshold_weighted(&weighted, target, min_support)
}

/// [`lowest_threshold`] over weighted predictions (score, correct, weight): the precision is
/// the weight of the correct predictions over the weight of all (so that sources of different
/// sizes can count the same); `min_support` counts predictions.
pub fn lowest_threshold_weighted(predictions: &[(f64, bool, f64)], target: f64, min_support: usize) -> Option<f64> {
    let mut p = predictions.to_vec();
    p.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut right, mut all) = (0.0, 0.0);
    let mut best = None;
    let mut k = 0;
    while k < p.len() {
        // all predictions tied at this score go together
        let s = p[k].0;
        while k < p.len() && p[k].0 == s {
            right += if p[k].1 { p[k].2 } else { 0.0 };
            all += p[k].2;
            k += 1;
        }
        if all > 0.0 && right / all >= target {
            if k >= min_support || best.is_none() {
                best = Some(s);
            }
        } else if k >= min_support {
            break;
        } else {
            best = None;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_separable_trend_with_non_negative_weights() {
        // y depends on x0 only; x1 is noise anti-correlated with y: its weight stays at 0
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..400 {
            let x0 = (i % 20) as f64 / 19.0;
            let y = (i * 7919 % 100) as f64 / 100.0 < x0;
            let x1 = if y { 0.0 } else { 1.0 } * ((i % 3) as f64 / 2.0);
            xs.push(vec![x0, x1]);
            ys.push(y);
        }
        let (b, w) = fit_logistic(&xs, &ys, 0.1);
        assert!(w[0] > 2.0, "{w:?}");
        assert_eq!(w[1], 0.0);
        assert!(b < 0.0);
    }

    #[test]
    fn score_is_monotonic_and_bounded() {
        let c = DEFAULT_CALIBRATION;
        let mut f = Features::default();
        let mut last = c.score(&f, 0.0);
        assert!((0.0..=1.0).contains(&last));
        for k in 0..N_FEATURES {
            for step in 1..=10 {
                let mut x = f.to_array();
                x[k] = step as f64 / 10.0;
                f = Features::from_array(x);
                let s = c.score(&f, 0.0);
                assert!(s >= last && (0.0..=1.0).contains(&s));
                last = s;
            }
        }
        assert!(c.score(&Features::default(), ID_CONFIDENCE) >= ID_CONFIDENCE);
    }

    #[test]
    fn threshold_keeps_precision() {
        let p = [(0.9, true), (0.8, true), (0.7, true), (0.6, false), (0.5, true), (0.4, false), (0.3, false)];
        assert_eq!(lowest_threshold(&p, 0.75, 1), Some(0.5));
        assert_eq!(lowest_threshold(&p, 0.8, 1), Some(0.7));
        assert_eq!(lowest_threshold(&p, 0.99, 1), Some(0.7));
        assert_eq!(lowest_threshold(&[(0.5, false)], 0.9, 1), None);
        // weights: one heavy wrong prediction outweighs two light right ones
        let w = [(0.9, true, 1.0), (0.8, true, 1.0), (0.7, false, 3.0), (0.6, true, 1.0)];
        assert_eq!(lowest_threshold_weighted(&w, 0.5, 1), Some(0.8));
        assert_eq!(lowest_threshold_weighted(&w, 0.4, 1), Some(0.6));
    }
}
