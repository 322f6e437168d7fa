//! Warm-up curves: the time of each run of a program's top level in one
//! process, classified the way Barrett et al. classify them ("Virtual
//! Machine Warmup Blows Hot and Cold", OOPSLA 2017, section 4).
//!
//! 1. **Changepoints.** PELT (Killick, Fearnhead and Eckley, 2012; the
//!    `pelt` crate) splits the series into segments of constant mean, with
//!    the paper's penalty of 15 ln n, scaled by the noise variance because
//!    the cost here is squared deviation (the paper's cost was a normal
//!    likelihood, which carries the variance itself). The noise σ is
//!    estimated from the median absolute difference of successive
//!    iterations, which a change in level barely moves.
//! 2. **Equivalent segments.** Neighbouring segments whose means differ by
//!    at most the last segment's standard deviation, or 1% of its mean,
//!    are one: a JIT's timings shift by such amounts for reasons no one
//!    would call a change of speed.
//! 3. **Classes.** Only one segment left: *flat*. A last segment shorter
//!    than a quarter of the iterations (the paper: 500 of 2000): *no steady
//!    state*, since nothing says the curve has settled. Otherwise the last
//!    segment is the steady state: *warm-up* if it is at least as fast as
//!    every segment before it, *slowdown* if some earlier segment was
//!    faster.
//!
//! The time to reach the steady state is the time of every iteration
//! before its first one.

use std::num::NonZero;
use std::time::Duration;

/// How a curve behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// No change of speed from the first iteration on.
    Flat,
    /// Faster after a while, and stays so.
    Warmup,
    /// Slower after a while, and stays so.
    Slowdown,
    /// Still changing near the end.
    NoSteadyState,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Flat => "flat",
            Class::Warmup => "warm-up",
            Class::Slowdown => "slowdown",
            Class::NoSteadyState => "no steady state",
        }
    }
}

/// What the iterations of one process show.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Each iteration's time, in order.
    pub times: Vec<Duration>,
    /// `None` with fewer than [`MIN_ITERATIONS`] iterations.
    pub class: Option<Class>,
    /// Where each segment starts (iteration indexes from 0; the first is 0),
    /// after equivalent neighbours were merged.
    pub segments: Vec<usize>,
    /// The first iteration of the steady state (its last segment), unless
    /// there is none.
    pub steady_from: Option<usize>,
    /// The time of the iterations before it.
    pub time_to_steady: Option<Duration>,
    /// The mean time of one iteration in the steady state.
    pub steady: Option<Duration>,
}

/// Fewer iterations than this are shown but not classified.
pub const MIN_ITERATIONS: usize = 10;

/// Barrett et al.'s penalty factor: 15 ln n.
const PENALTY_FACTOR: f64 = 15.0;

/// Classify a series of iteration times.
pub fn classify(times: Vec<Duration>) -> Curve {
    let mut curve = Curve {
        times,
        class: None,
        segments: Vec::new(),
        steady_from: None,
        time_to_steady: None,
        steady: None,
    };
    if curve.times.len() < MIN_ITERATIONS {
        return curve;
    }
    let series: Vec<f64> = curve.times.iter().map(Duration::as_secs_f64).collect();
    let starts = merge_equivalent(&series, &changepoints(&series));
    let n = series.len();
    let last = *starts.last().unwrap_or(&0);
    let steady_mean = mean(&series[last..]);
    let class = if starts.len() == 1 {
        Class::Flat
    } else if (n - last) * 4 < n {
        Class::NoSteadyState
    } else if segments(&starts, n).all(|(from, to)| mean(&series[from..to]) >= steady_mean) {
        Class::Warmup
    } else {
        Class::Slowdown
    };
    curve.class = Some(class);
    if class != Class::NoSteadyState {
        curve.steady_from = Some(last);
        curve.time_to_steady = Some(curve.times[..last].iter().sum());
        curve.steady = Some(Duration::from_secs_f64(steady_mean));
    }
    curve.segments = starts;
    curve
}

/// Where segments of different mean start, by PELT: 0 first.
///
/// A segment may be one iteration long: a JIT's first iteration is often
/// the only slow one. `pelt` 0.3 needs its `jump` (how often a changepoint
/// is considered) to be at least its minimum segment length, and both at
/// least 2, so it runs on the series with every value twice, with jump and
/// minimum length 2 and the penalty doubled. That is the same problem
/// exactly: every segment's squared-deviation cost doubles, and a
/// changepoint at position 2i of the doubled series is one at i.
fn changepoints(series: &[f64]) -> Vec<usize> {
    let sigma = noise(series);
    let penalty = PENALTY_FACTOR * (series.len() as f64).ln() * sigma * sigma;
    let doubled: Vec<f64> = series.iter().flat_map(|&value| [value, value]).collect();
    let two = NonZero::<usize>::MIN.saturating_add(1);
    let pelt = pelt::Pelt::new()
        .with_segment_cost_function(pelt::SegmentCostFunction::L2)
        .with_jump(two)
        .with_minimum_segment_length(two);
    // PELT gives each segment's end; the last is the series' length.
    let ends = pelt.predict(&doubled[..], 2.0 * penalty).unwrap_or_default();
    let ends = ends.into_iter().map(|end| end / 2).filter(|&end| end < series.len());
    std::iter::once(0).chain(ends).collect()
}

/// The noise's standard deviation: the median absolute difference of
/// successive values, scaled to σ for normal noise (MAD / 0.6745, and
/// differences have √2 σ). At least 0.1% of the median value, so that a
/// series of identical times is not split at every point.
fn noise(series: &[f64]) -> f64 {
    let mut differences: Vec<f64> = series.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let mut values = series.to_vec();
    let sigma = median(&mut differences) / (0.6745 * std::f64::consts::SQRT_2);
    sigma.max(median(&mut values) * 1e-3).max(f64::MIN_POSITIVE)
}

/// Merge neighbouring segments whose means the last segment's spread
/// cannot tell apart (see the module's comment), from the end backwards.
fn merge_equivalent(series: &[f64], starts: &[usize]) -> Vec<usize> {
    let n = series.len();
    let last = *starts.last().unwrap_or(&0);
    let tail = &series[last..];
    let tolerance = standard_deviation(tail).max(mean(tail) * 0.01);
    let mut merged: Vec<usize> = vec![starts[0]];
    for &start in &starts[1..] {
        let previous = *merged.last().unwrap_or(&0);
        let end = starts.iter().copied().find(|&s| s > start).unwrap_or(n);
        if (mean(&series[previous..start]) - mean(&series[start..end])).abs() > tolerance {
            merged.push(start);
        }
    }
    merged
}

/// Each segment's range, from the starts.
fn segments(starts: &[usize], n: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    starts.iter().enumerate().map(move |(i, &from)| (from, starts.get(i + 1).copied().unwrap_or(n)))
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn standard_deviation(values: &[f64]) -> f64 {
    let m = mean(values);
    (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / values.len().max(1) as f64).sqrt()
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Milliseconds with a deterministic wobble of ±2%.
    fn series(levels: &[(usize, f64)]) -> Vec<Duration> {
        let mut times = Vec::new();
        for &(count, ms) in levels {
            for i in 0..count {
                let wobble = [0.0, 0.02, -0.01, 0.015, -0.02, 0.005][(times.len() + i) % 6];
                times.push(Duration::from_secs_f64(ms * (1.0 + wobble) / 1000.0));
            }
        }
        times
    }

    #[test]
    fn a_level_series_is_flat() {
        let curve = classify(series(&[(100, 5.0)]));
        assert_eq!(curve.class, Some(Class::Flat));
        assert_eq!(curve.steady_from, Some(0));
        assert_eq!(curve.time_to_steady, Some(Duration::ZERO));
    }

    #[test]
    fn a_fast_tail_after_slow_iterations_is_warm_up() {
        let curve = classify(series(&[(3, 40.0), (5, 12.0), (92, 5.0)]));
        assert_eq!(curve.class, Some(Class::Warmup));
        assert_eq!(curve.steady_from, Some(8));
        let before: Duration = curve.times[..8].iter().sum();
        assert_eq!(curve.time_to_steady, Some(before));
        let steady = curve.steady.unwrap().as_secs_f64() * 1000.0;
        assert!((steady - 5.0).abs() < 0.1, "steady {steady} ms");
    }

    #[test]
    fn one_slow_first_iteration_is_warm_up() {
        let curve = classify(series(&[(1, 9.0), (29, 5.0)]));
        assert_eq!(curve.class, Some(Class::Warmup));
        assert_eq!(curve.steady_from, Some(1));
        let odd = classify(series(&[(7, 9.0), (29, 5.0)]));
        assert_eq!(odd.steady_from, Some(7), "a changepoint at an odd iteration");
    }

    #[test]
    fn a_slow_tail_is_slowdown() {
        let curve = classify(series(&[(40, 5.0), (60, 9.0)]));
        assert_eq!(curve.class, Some(Class::Slowdown));
        assert_eq!(curve.steady_from, Some(40));
    }

    #[test]
    fn a_change_near_the_end_is_no_steady_state() {
        let curve = classify(series(&[(90, 5.0), (10, 20.0)]));
        assert_eq!(curve.class, Some(Class::NoSteadyState));
        assert_eq!(curve.steady_from, None);
        assert_eq!(curve.steady, None);
    }

    #[test]
    fn shifts_within_the_noise_are_not_changes() {
        // 5.0 then 5.02 ms: a 0.4% shift, under the 1% tolerance.
        let curve = classify(series(&[(50, 5.0), (50, 5.02)]));
        assert_eq!(curve.class, Some(Class::Flat));
    }

    #[test]
    fn too_few_iterations_are_not_classified() {
        let curve = classify(series(&[(5, 5.0)]));
        assert_eq!(curve.class, None);
        assert_eq!(curve.times.len(), 5);
    }
}
