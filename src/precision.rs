//! The precision policy: every threshold that decides a verdict, in one place, each with its
//! reason. A tolerance is never widened to make a link pass; where a number here changes, the
//! snapshots of every derivation must be re-read.
//!
//! - **Comparing two sides at a point** ([`REL`], [`SCALE`], [`ALPHA`]): see
//!   `numeric/tolerance.rs` for how they combine.
//! - **Points** ([`POINTS`], [`EDGE_POINTS`], [`MIN_POINTS`], [`MAX_SHRINK`], [`MAX_SIZE`],
//!   [`DECADES`]): where a link is evaluated, and how many points it needs.
//! - **Monte Carlo** ([`MC_SAMPLES`], and the estimator's own guards in `numeric/eval.rs`).
//! - **Width studies** ([`WIDTHS`], [`SEEDS`], [`LEVEL`], [`RESOLUTION_REL`], [`FLOOR_REL`],
//!   [`MAX_DRAW_FACTOR`], [`POINT_SHRINK`]; beyond the widths [`PROBE_OFF_GRID`],
//!   [`PROBE_BEYOND`], [`PROBE_SUM_MAX`], [`PROBE_PERSIST`]): when a `limit` link holds.
//! - **Diagnosis** ([`RATIO_REL`]): when a refuted link is called "off by a constant factor".
//! - **Order studies** ([`CREEP_FLOOR`], [`CREEP_RATIO`], [`CREEP_REFUTE`], [`MIN_CREEP_STEPS`], [`BOUNDED_GROWTH`]): when an error
//!   constant still grows (the other thresholds of `derivation::approx` are in that module).
//! - **Covariances** ([`PSD_SLACK`]) and **high precision** ([`BITS`]).
//! - **gauss(…) along curves** ([`CURVE_CELLS`], [`UNSEEN_WIDTH`], [`CURVE_PROBES`]): where the
//!   nested rule looks for the zeros of a curved subterm.

// ---- comparing two sides ------------------------------------------------------------------

/// Relative tolerance on the values: 1e-12. Evaluating a sum or product of n terms in f64 has a
/// forward rounding error of at most about n·ε with ε = 2.2e-16; the terms links expand to number
/// at most a few hundred, so rounding stays below 1e-13 of the magnitude, and 1e-12 leaves a ~5×
/// margin (and covers the quadrature reference's 1e-13 accuracy). A wrong constant, sign, index or
/// dropped term changes a value by far more at the generic points sampled.
pub const REL: f64 = 1e-12;
/// Tolerance relative to the magnitude scale of the computation (the same computation on
/// absolute values): 1e-12, for the same reason as [`REL`]; it covers cancellation.
pub const SCALE: f64 = 1e-12;
/// Where a function jumps (step and sign at 0, φ′ of ReLU at 0, ...), an argument computed in
/// f64 with |x| ≤ 1e-13·S (S its magnitude scale) is within the rounding error the policy
/// allows for (see [`REL`]), so the side of the jump it falls on is not known: the point is not
/// evaluated rather than decided by rounding (0.1a + 0.2a − 0.3a is 5.6e-17 at a = 1, and
/// sign of it would be 1 instead of 0). 1e-13 and not [`SCALE`]: quadrature nodes are graded
/// to 1e-12 of a piece's range towards a jump, and they must stay evaluable.
pub const JUMP_ROUNDING: f64 = 1e-13;
/// Inside an integration, a few nodes graded towards a jump fall within [`JUMP_ROUNDING`] of it
/// (a set of measure 0: the integral does not depend on them). More than a quarter of the
/// integrand evaluations doing so means the argument is within rounding of the jump on a whole
/// region, as in E[step((exp(a + 1e-20) − exp(a))·(1 + w²))], whose f64 argument is 0 everywhere
/// while the true one is positive: the integral is then not evaluated.
pub const JUMP_NODES: f64 = 0.25;
/// Family-wise false-alarm rate of the Monte Carlo comparisons of one link: 1e-4, Bonferroni over
/// its points. A correct link is refuted by chance at most once in 10,000 links, and a wrong one
/// needs a difference of about 4.5 standard errors to be caught (the seeds are fixed, so a verdict
/// is reproducible).
pub const ALPHA: f64 = 1e-4;

// ---- points -------------------------------------------------------------------------------

/// Points at which each link is evaluated: 12, enough that a wrong identity which agrees at a
/// special value (0, 1, an edge) is still caught at the generic ones, and few enough that a link
/// with Monte Carlo sides costs well under a second.
pub const POINTS: usize = 12;
/// How many of them take the edges of the declared domains (0, ±1, interval ends): 4.
pub const EDGE_POINTS: usize = 4;
/// The random point (odd, so its entries have unit scale) at which every seeded array, vector
/// or matrix takes the entries of the first declared one of its kind (y drawn as x: parallel
/// arrays, where (Σx_j y_j)² = Σx_j²·Σy_j²): independent draws never meet such equality cases.
pub const ALIAS_POINT: usize = 5;
/// The random point at which every seeded symbol's entries are all equal (x[i] = x[i + 1], a
/// rank-one matrix, a singular covariance S = F·Fᵀ).
pub const CONSTANT_POINT: usize = 7;
/// The random point at which the seeded symbols' entries lie on separate supports: vectors
/// orthogonal, matrices diagonal, covariances diagonal (uncorrelated entries).
pub const SEPARATE_POINT: usize = 9;
/// Fewest points at which both sides must evaluate to finite values for a link to count as
/// checked numerically: 8 of the 12 (two thirds). A link may be undefined on part of a wide
/// domain (a root of a negative number, an overflow) but not on most of it: `proved` needs them
/// (else `unchecked`), `consistent` needs them (else `unknown`).
pub const MIN_POINTS: usize = 8;
/// A second batch of random points, drawn when fewer than [`MIN_POINTS`] of the first
/// [`POINTS`] are evaluated (the comparisons then count all of them for the Bonferroni factor).
pub const EXTRA_POINTS: usize = 12;
/// How many times a point refused by the term budget is retried with its sizes divided by 10: 3.
pub const MAX_SHRINK: u32 = 3;
/// Largest size drawn (sizes are log-uniform in 1..=MAX_SIZE): 5000, past the widths of the
/// width studies, so that a link true only for small sizes is caught.
pub const MAX_SIZE: f64 = 5000.0;
/// Decades of magnitude reals and positives are drawn from (|x| log-uniform in
/// [10^-DECADES, 10^DECADES], both signs for reals): 6, so that scale-dependent slips (x vs x²,
/// a missing factor) show at some point.
pub const DECADES: f64 = 6.0;

// ---- Monte Carlo ----------------------------------------------------------------------------

/// Monte Carlo samples per expectation that is not a polynomial in the Gaussian entries: 20,000
/// (standard error ~0.7% of the standard deviation; with common random numbers the difference
/// of two sides is estimated far more tightly).
pub const MC_SAMPLES: usize = 20_000;

/// The mixture Monte Carlo draws fixed Gaussian entries from (defensive importance sampling):
/// (share α, standard deviation s) of each component, every sample weighted by φ/q, q the
/// mixture's density, so that no weight exceeds 1/α₁ = 1.43 (the variance is at most 1.43× plain
/// sampling's) while a tenth of the samples reach six standard deviations out. With plain
/// N(0, I) samples, E[√(e^(a/25) + 10¹⁴·step(a + b + c − 9))] = 2.017 agreed with e^(1/5000):
/// the event has probability 10⁻⁷ and no sample reached it; the s = 2.5 component reaches it in
/// ~2% of its draws, the s = 6 one reaches a + b + c > 15 (probability 2·10⁻¹⁸) in ~7%
/// (`derivations/wrong/rare_joint_events.toml`). Components are assigned by sample number
/// (`numeric::eval::mixture_scale`: of every ten samples, as many tenths as each share), so
/// their counts are exact and two sides share their samples.
pub const MC_MIXTURE: [(f64, f64); 3] = [(0.7, 1.0), (0.2, 2.5), (0.1, 6.0)];

/// Fewest Monte Carlo samples with a non-zero integrand magnitude for an estimate to count: 100
/// (fewer, and the standard error itself is not estimated reliably).
pub const MC_MIN_NONZERO: usize = 100;

/// A Monte Carlo estimate is refused as divergent when one sample carries more than this share of
/// the sum of squared deviations: with finite variance and 20,000 samples the largest share is
/// ~1e-3 for Gaussian-tailed integrands; for an infinite-variance one it is O(1).
pub const MC_MAX_SHARE: f64 = 0.3;

/// A Monte Carlo estimate is refused as divergent when its [`TOP`] largest squared deviations
/// carry more than this share of their sum. With finite variance the share falls like TOP/n
/// (≈ 1e-3·TOP at 20,000 Gaussian-type samples; ≲ 0.3 even when only 100 samples are non-zero);
/// with infinite variance (a ratio of Gaussians, a pole like z^(−2)) the few largest samples carry
/// most of it (typically > 0.8).
pub const MC_MAX_TOP_SHARE: f64 = 0.5;
/// How many of the largest samples [`MC_MAX_TOP_SHARE`] looks at.
pub const TOP: usize = 10;
/// Family confidence level of the Monte Carlo intervals `derive kernel --mc` prints (all entries
/// of Σ̂ and Θ̂ together, Bonferroni): 0.95, the conventional level for reported intervals (they
/// are shown, not used to decide a verdict).
pub const MC_LEVEL: f64 = 0.95;

/// The coarsest Monte Carlo resolution (the largest tolerance of a statistical point, relative
/// to the largest |side| over the link's points, or to the largest term of the prover's normal
/// form of lhs − rhs where that is smaller: a part both sides share exactly, `+ sb²`, must not
/// dilute it) at which agreement without a proof is called
/// `consistent`: at 20,000 samples a product of three relus is known to ±16% and a relu kernel
/// at ρ near −1 to ±33%, where constants 10% and 3% off agreed; at 1e-2, E[cos(w₁w₂w₃/5)] =
/// (1 + 1/25)^(−1/2) (w₂² set to 1: 0.1% off) agreed within 0.24%. Coarser is `unknown`, naming
/// the resolution reached. Measured over every statistical point of `check --all --notes`: the
/// `consistent` links reach at most 3.7·10⁻⁶ (exact means and control variates), so 1e-3 moves
/// no verdict of the suite; plain Monte Carlo at 20,000 samples resolves 1e-3 only where the
/// spread is below ~3% of the mean. A proof does not need it (the numerics only guard a proof).
pub const MC_RESOLUTION_REL: f64 = 1e-3;

/// The coarsest f64 resolution at which a point's agreement is evidence for `consistent` (a
/// link needs `MIN_POINTS` such points): a deterministic point's tolerance relative to
/// max(|lhs|, |rhs|) — or to the largest term of the prover's lhs − rhs where that is smaller,
/// as for Monte Carlo. No floor: a floor of 1 made 2·10⁹·E[cos(7.3u)] = 0.0054 ± 0.0087 agree
/// with −0.003, and any floor is a choice of units. The tolerance grows with the size of the
/// terms a side is computed from: E[w²·cosh²30] − E[w²·sinh²30] (= 1) agreed with 12345 within
/// 6.9·10¹⁵, because both terms are 2.8·10²⁵; at 1e-2, ∫₀¹ e³⁰(erf s + erf(−s)) + 10⁵ ds (= 10⁵)
/// agreed with 100500 within 5.6·10² (the e³⁰ terms cancel exactly, their rounding bound does
/// not). An f64 evaluation that keeps fewer than six digits of its sides has lost them to such a
/// cancellation. Measured over every deterministic point of `check --all --notes`: the
/// `MIN_POINTS`-th finest point of each `consistent` link is within 2.1·10⁻⁷ of its sides
/// (n000_sigma_a 4.1; gauss_quadrature 4.1 completes its eight with exact zeros, tolerance 0),
/// so 1e-6 moves no verdict of the suite; the coarser points are proved links (cosh²t − sinh²t = 1 at large t: 10², not judged
/// by this), single edge points (√(1 − r²) at r = −1, whose first-order error bound is 18 on a
/// side of 3), links already `unknown` for another reason, and the deliberate cancellations of
/// wrong/cancellation_hidden.toml.
pub const F64_RESOLUTION_REL: f64 = 1e-6;

// ---- width studies --------------------------------------------------------------------------

/// Widths of a study unless the `[network]` table says otherwise: 15, 34, 59, 132, 241, 518 —
/// about 16·2ᵏ (k = 0…5; six widths span 1.5 decades, enough to fit a + b·n^r + c·n^2r and a
/// slope), each moved off it by up to 8% (as the approximation studies' steps are moved off
/// powers of 2, `derivation::approx`), so that the widths lie on no special set of integers.
/// At exactly 16·2ᵏ every width was a multiple of 16, and a discrepancy that vanishes there —
/// (−1)ⁿ − 1, sin(πn/16)², any function of n mod 16 — was never seen: `1/n·Σ w_j² + (−1)ⁿ → 2`
/// was a `limit`. Here the k-th width is ≡ k + 3 (mod 6): the parity alternates (so the
/// largest widths are odd and even) and every three consecutive widths fall in the three
/// classes mod 3; the widths fall in every class modulo each m ≤ 6 (a function of n mod m,
/// m ≤ 6, that vanishes at every width vanishes at every n), the largest three in three classes
/// mod 4, all six in six classes mod 8 and mod 16, and they are not all congruent modulo any
/// m ≥ 2 (their differences have gcd 1); the tests below check this. The largest is still
/// ≈ 512 and Σ n² is what it was, so a study costs and resolves what it did; the fits use the
/// widths as they are (nothing assumes equal spacing on the log scale).
pub const WIDTHS: [usize; 6] = [15, 34, 59, 132, 241, 518];
/// Where a residual term (or a group of terms, or the exact mean of lhs − rhs) is 0 at every
/// studied width, that is no evidence it vanishes as n → ∞ (`relu(n − 600)/n`, or
/// (n − 15)·(n − 34)·…·(n − 518)/n⁶, vanish at every width of [`WIDTHS`] and tend to 1): it is
/// also evaluated off the studied grid, at these widths between them (primes, on no special
/// set) …
pub const PROBE_OFF_GRID: [usize; 3] = [23, 97, 379];
/// … and at every width of a block of [`PROBE_BLOCK_LEN`] consecutive widths from
/// [`PROBE_BLOCK_START`], between the largest studied width and the first of [`PROBE_BEYOND`]:
/// consecutive widths fall in every class modulo each m ≤ 64, so a function of n mod m that is
/// 0 at every other width is seen. The widths above are all ≡ 1, 2, 4–8 (mod 9): a term that
/// is 27/128 at n ≡ 0, 3 (mod 9) and 0 elsewhere was a `limit`
/// (`derivations/wrong/width_residues.toml`). A period above 64 can still hide.
pub const PROBE_BLOCK_START: usize = 700;
/// The length of that block ([`PROBE_BLOCK_START`]).
pub const PROBE_BLOCK_LEN: usize = 64;
/// … and beyond the largest, about 10^(k/2) for k = 6…12 (primes near them), up to 10⁶: a
/// term that is 0 up to some width N is seen for N < 10⁶. A deterministic term costs one
/// evaluation per width; a term with a sum over the width costs about n (more for nested
/// sums, where the evaluator's term budget of 10⁶ refuses them), so it is evaluated only up
/// to [`PROBE_SUM_MAX`].
pub const PROBE_BEYOND: [usize; 7] = [1009, 3163, 10007, 31627, 100003, 316223, 1_000_003];
/// … and, for a term without a sum over the width (one evaluation per width whatever its size),
/// on beyond 10⁶ the same way up to 10¹⁵ (2⁵³ is 9·10¹⁵: the widths stay exact in f64): a
/// deterministic part 0 up to 10⁶ and not after was a `limit` — relu(n − 10⁷)/n and
/// exp(−10⁹/n), which tend to 1 (`derivations/wrong/limit_beyond_a_million.toml`).
pub const PROBE_FAR: [usize; 18] = [
    3_162_283,
    10_000_019,
    31_622_777,
    100_000_007,
    316_227_767,
    1_000_000_007,
    3_162_277_669,
    10_000_000_019,
    31_622_776_621,
    100_000_000_003,
    316_227_766_069,
    1_000_000_000_039,
    3_162_277_660_169,
    10_000_000_000_037,
    31_622_776_601_743,
    100_000_000_000_031,
    316_227_766_016_849,
    1_000_000_000_000_037,
];
/// The largest width at which a term with a sum is evaluated beyond the study: 10007, twice the
/// largest size of ordinary points ([`MAX_SIZE`]); the last three such widths (1009, 3163, 10007)
/// still span a decade for the persistence test ([`PROBE_PERSIST`]).
pub const PROBE_SUM_MAX: usize = 10_007;
/// The largest width at which a deterministic term with a sum (no random entry) is evaluated
/// beyond the study: 316,223, the last of [`PROBE_BEYOND`] within the evaluator's budget of 10⁶
/// sum terms per side (1,000,003 is refused). 1/n·Σ_k step(k − 20000), 0 up to n = 20000 and
/// tending to 1, was a `limit` when such terms stopped at [`PROBE_SUM_MAX`]; it is `unknown`
/// (its step is undecided in f64 at k = 20000, and a width that cannot be evaluated is no
/// evidence; `derivations/wrong/width_sum_beyond_the_probes.toml`). A term that switches on
/// beyond 3·10⁵ is still not seen.
pub const PROBE_SUM_DETERMINISTIC_MAX: usize = 316_223;
/// A deterministic term that is 0 at the studied widths and not beyond refutes the limit only
/// where it clearly does not shrink: above the resolution the claim needs at the three largest
/// widths evaluated (a factor √10 apart), and either not smaller at the last than at the first
/// or, where its two changes shrink geometrically (same sign, the second smaller), extrapolated
/// (Aitken's Δ², exact for c + a·n^(−q) on such widths) to a limit c of its sign with
/// |c| ≥ 0.9 of its last value. Measured at 10⁵, 3·10⁵, 10⁶: relu(n − 600)/n gives
/// c/v = 1.0006 and 1 + 400/n (shrinking, but to 1) 0.9996; n^(−0.1) and n^(−0.02) give c ≈ 0
/// (|c|/v < 0.003) and 1/log n 0.55 (all tend to 0, slowly): those leave the link `unknown`, as
/// does any random term. (The polynomial above, a sum at 1009, 3163, 10007, grows: 0.29, 0.72,
/// 0.90.)
pub const PROBE_PERSIST: f64 = 0.9;
/// Draws per width unless the `[network]` table says otherwise: 48.
pub const SEEDS: usize = 48;
/// Level of the slope interval, before the Bonferroni correction over the configurations: 0.99
/// (the slope is supporting evidence; its interval is reported, not decisive).
pub const LEVEL: f64 = 0.99;
/// The resolution a limit claim needs unless the link declares one: 1e-3 of the scale of the
/// quantity (a limit off by less than 0.1% is not what the notes' errors look like; the link can
/// declare a finer one).
pub const RESOLUTION_REL: f64 = 1e-3;
/// The coarsest resolution a link may declare (`resolution = …`), as a fraction of the scale of
/// the quantity: 0.1. A declared resolution relaxes [`RESOLUTION_REL`] for claims that 48 draws
/// of trained networks resolve only to a few percent (`derivations/ode_solution.toml`: 0.01 and
/// 0.05 against scales 0.014 to 0.34, reached 3·10⁻⁴ to 2.5·10⁻²); beyond a tenth of what the
/// claim is about, a `limit` would accept an error of that size (`resolution = 1000` passed
/// Θ̂ → Θ + 0.5 with Θ = 0.65), so the declaration is capped there.
pub const DECLARED_RESOLUTION_MAX_REL: f64 = 0.1;
/// The draws per width a width study needs beyond the number of widths (and one more per
/// control variate used): the covariance of the means across k widths is estimated from the
/// draws, paired by seed, with `seeds − 1 − controls` degrees of freedom; below k it is
/// singular, and near k its inverse (the fit's weights) is far from the true one. With 4 draws
/// at 6 widths the fit gave a = −2.3 ± 2.6·10⁻⁶ for a discrepancy whose mean at n = 518 was
/// −0.067 ± 0.25. k + 2 degrees of freedom keep the covariance invertible; the remaining bias
/// of estimated weights is corrected exactly ([`crate::derivation::limit`]'s fit).
pub const SEEDS_BEYOND_WIDTHS: usize = 3;
/// The finest resolution a study claims, as a fraction of the scale: 1e-9, the accuracy of the
/// deterministic pieces (quadrature, kernel recursions) the sides are computed from.
pub const FLOOR_REL: f64 = 1e-9;
/// The draw budget: a study whose resolution is too coarse doubles its draws per width until it
/// has this many times the initial number (4), then says `unknown`.
pub const MAX_DRAW_FACTOR: usize = 4;
/// Sizes other than the width are divided by 10^POINT_SHRINK in width studies without a network
/// (sampled sizes reach the thousands; the study draws 48 × 6 widths of terms that grow with
/// them).
pub const POINT_SHRINK: u32 = 3;
/// Relative size below which a sum of residual terms counts as 0 in a width study, draw by draw:
/// 1e-9 of the terms' total size: terms that cancel exactly (1000·z − 1000·relu(z) +
/// 1000·relu(−z)) leave a few ulps of that size, far below it, and a part that does not
/// cancel is far above it. Used to merge terms that cancel together and to call a part 0 at every studied width.
pub const CANCEL_REL: f64 = 1e-9;

// ---- approximation (order) studies ------------------------------------------------------------

/// The relative change of an order study's error constant K = |lhs − rhs|/|h|ᵖ from one step to
/// the next that counts as growth, on top of the rounding of the two differences (their ball
/// radii, or the f64 tolerance, relative to them): 1e-12 (as [`REL`]). K is computed in f64 from
/// a difference known to its radius, a few ulps (~1e-15) at most; the slowest growth that must
/// be seen, 10¹⁰·t² + t^1.5 against O(t²), changes K by ~1e-6 per step where it starts to show.
pub const CREEP_FLOOR: f64 = 1e-12;
/// The error constant of an order study still grows "without slowing down" when its increments
/// over the later half of a run of steps are at least 0.5 of those over the earlier half. Over
/// a run of r steps a constant converging as c − a·|h|^q (the steps halve |h|) has increments
/// shrinking by 2^(−q·r/2): below 0.5 for q·r ≥ 2, so converging constants (q ≥ 0.2 over the
/// ~20 steps of a last half) pass; a log (increments constant, ratio 1) and a power |h|^(−ε)
/// (ratio > 1) do not.
pub const CREEP_RATIO: f64 = 0.5;
/// A growing error constant refutes the order only where its increments over the later half of
/// the last half of the steps are at least 0.85 of those over the earlier half: a logarithm's
/// increments are equal (measured 0.97 with the steps' wobble, 1 + s²·(20 + log(1/s))), a
/// power's grow (1.9 for 1/n^0.9 behind 100/n, 2.2 for s^1.9 behind 100·s²). Between
/// [`CREEP_RATIO`] and this the constant may be converging very slowly (1 − s^0.05: 0.64;
/// 3 − 1/log(1/s): 0.53, both true O(s²) claims): undecided, so the link is `unknown`.
pub const CREEP_REFUTE: f64 = 0.85;
/// A bounded error constant of an order study grows at most ×1.1 from the first half of the
/// steps above rounding to the second (largest over largest): the true order claims of the suite
/// measure 0.92–1.02 at every point (`grep "error constant ×" snapshots/*.snap`). Beyond it, and
/// up to `approx::GROWTH` (which refutes), the point holds no evidence of a bound and the link
/// is `unknown`: a factor log(1/t)^p, which grows about 2^p from half to half of a study toward
/// 0 and hides from the creep test behind an oscillation (t²·log(1/t)^0.6·(2 + sin(2 log t))
/// grew ×1.30–1.47 and was a `limit`), is seen for p ≥ 0.14; a smaller power is not.
pub const BOUNDED_GROWTH: f64 = 1.1;
/// Fewest steps in a run whose growth is judged (the last half for a refutation, the last
/// quarter to leave a point undecided): 6. A bounded oscillating constant such as
/// 1 + sin(log t) rises over at most 4 or 5 consecutive halvings of t.
pub const MIN_CREEP_STEPS: usize = 6;

// ---- unknown functions (an ODE integrated numerically) ----------------------------------------

/// The accuracy asked of `numeric::ode::rk4_checked` when an unknown function's ODE is
/// integrated to a sampled time: its Richardson estimate of the error, |y_{h/2} − y_h|∞/15, at
/// most 1e-10·max(1, |y|∞). The value returned is the extrapolation y_{h/2} + (y_{h/2} − y_h)/15,
/// one order more accurate than the estimate says, so the estimate is a conservative error of it;
/// the comparison with the claimed solution allows z (≈ 4.4, the Bonferroni quantile of
/// [`ALPHA`]) times the estimate on top of the rounding allowance, as for Richardson
/// derivatives. The estimate vanishes where both attempts round or underflow to the same numbers,
/// so 1e-10 of the larger of the initial and final values is added to it. A wrong solution (a sign, a factor, a missed initial condition) differs by far
/// more than 1e-10 of its magnitude; 1e-10 is reached within the step budget below for
/// |d(rhs)/dy|·|t − t0| up to about 100.
pub const ODE_TOLERANCE: f64 = 1e-10;
/// RK4 steps of the first attempt of the integration at least: 16 (more where the right side's
/// Lipschitz estimate times the interval asks for it); each further attempt doubles them.
pub const ODE_FIRST_STEPS: usize = 16;
/// Most evaluations of the right side one integration may spend: 2^18 ≈ 2.6·10^5 (about
/// 2^15 steps in the last attempt, a few tenths of a second at a point). Beyond, the point is not
/// evaluated (a stiff or fast-growing solution at that point, e.g. η·|t|·‖Θ‖ in the thousands),
/// never a comparison.
pub const ODE_MAX_EVALUATIONS: usize = 1 << 18;

// ---- diagnosis ------------------------------------------------------------------------------

/// Two refuted sides are "off by a constant factor" k when lhs/rhs agrees with k to 1e-9 at every
/// point (and k is recognised as a short closed form to the same accuracy): well above the
/// rounding of a ratio of two values each good to 1e-12, well below any accidental agreement.
pub const RATIO_REL: f64 = 1e-9;

// ---- covariances and high precision ---------------------------------------------------------

/// Relative slack allowed in s12² ≤ s11·s22 before a covariance is refused (within it, s12 is
/// clamped to ±√(s11·s22)): 1e-12, the rounding of a covariance computed in f64.
pub const PSD_SLACK: f64 = 1e-12;

// ---- quadrature of gauss(…) along curves ---------------------------------------------------

/// Largest 1-norm of a matrix (and of its magnitudes) whose exponential is computed: the
/// scaling and squaring estimates the norms of powers up to X¹⁰, which overflow beyond 10³⁰
/// (and an infinite norm asks for ⌈log₂ ∞⌉ squarings). Beyond it, `mexp` is not evaluated.
pub const MEXP_MAX_NORM: f64 = 1e30;

/// Intervals of the grid on which `gauss(…)`'s nested rule looks for the zeros of a curved
/// subterm (u² + v² − 1 inside exp(−10⁸·(…)²)) along z2 at each node z1 of the outer integral,
/// and for where its least or greatest value along z2 crosses 0: 128 on [−37.5, 37.5], a cell
/// of 0.59 standard deviations. A pair of zeros closer than a cell is still found as a zero
/// touched (a local minimum of |g| below 10⁻³ of its largest value, refined by golden
/// section). A quarter of the 512 of a 1-D integral ([`crate::numeric::features::ZERO_GRID`]):
/// the search runs at every outer node, and with 512 the ridge on u² + v² = 1 took 4 times as
/// long for the same cuts.
pub const CURVE_CELLS: usize = 128;
/// The width graded towards at a cut of the outer integral where no probe of the integrand saw
/// anything but 0 (the feature sits off the lines probed): 4·10⁻¹⁰, graded by doubling up to 2
/// (34 edges on each side), the resolution of a 1-D integral's grading over the range (4⁻²⁰ of
/// [−37.5, 37.5] is 7·10⁻¹¹).
pub const UNSEEN_WIDTH: f64 = 4e-10;
/// Where, across the outer integral's cut at a curve's zero, the integrand is probed for the
/// width to grade from (in z2, besides the point on the curve): lines that are not symmetric
/// about 0, so that a factor odd or even in v does not vanish on all of them.
pub const CURVE_PROBES: [f64; 3] = [0.0, 0.75, -1.25];
/// The working precision of the ball arithmetic that decides a point where it applies: 128 bits,
/// so that rounding (≈ 3e-39 relative) is far below any difference a wrong step makes.
pub const BITS: u32 = 128;

/// The prover's residual lhs − rhs is searched against 0 beyond the link's points only where its
/// magnitude there is at most this fraction of the sides': a part the sides share is then too
/// large for f64 to resolve their difference beside it (10²⁰ + step(a − 10⁷) = 10²⁰ has sides
/// of 10²⁰ and a residual of scale 0 to 1), 10⁻⁶ leaving six digits to spare. Where the residual
/// is comparable to the sides, the search of the sides sees what the residual's would.
pub const SHARED_PART_REL: f64 = 1e-6;

#[cfg(test)]
mod tests {
    use super::WIDTHS;

    fn classes(ws: &[usize], m: usize) -> usize {
        let mut r: Vec<usize> = ws.iter().map(|w| w % m).collect();
        r.sort_unstable();
        r.dedup();
        r.len()
    }

    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }

    #[test]
    fn the_probe_block_meets_every_residue() {
        use super::{PROBE_BEYOND, PROBE_BLOCK_LEN, PROBE_BLOCK_START};
        let block: Vec<usize> = (PROBE_BLOCK_START..PROBE_BLOCK_START + PROBE_BLOCK_LEN).collect();
        for m in 2..=64 {
            assert_eq!(classes(&block, m), m, "mod {m}");
        }
        // Off the studied grid, and before the probes beyond it (whose last three decide
        // whether a part persists).
        assert!(block.iter().all(|w| !WIDTHS.contains(w)));
        assert!(block[0] > WIDTHS[5] && block[block.len() - 1] < PROBE_BEYOND[0]);
    }

    #[test]
    fn the_widths_lie_on_no_special_set() {
        // Increasing, about 16·2^k, the largest about 512.
        for (k, w) in WIDTHS.iter().enumerate() {
            let r = *w as f64 / (16 << k) as f64;
            assert!((0.92..=1.08).contains(&r), "{w} is {r} × 16·2^{k}");
            // The k-th width is ≡ k + 3 (mod 6): parities alternate, consecutive triples
            // cover mod 3.
            assert_eq!(w % 6, (k + 3) % 6, "{w}");
        }
        assert!(WIDTHS.windows(2).all(|p| p[1] as f64 >= 1.5 * p[0] as f64));
        // Every residue class modulo m ≤ 6, the largest three in three classes mod 4, six
        // classes modulo 8 and 16.
        for m in 2..=6 {
            assert_eq!(classes(&WIDTHS, m), m, "mod {m}");
        }
        assert_eq!(classes(&WIDTHS[3..], 4), 3);
        for m in [8, 16] {
            assert_eq!(classes(&WIDTHS, m), 6, "mod {m}");
        }
        // Not all congruent modulo any m ≥ 2; no width is a power of 2.
        let g = WIDTHS.iter().fold(0, |g, w| gcd(g, w - WIDTHS[0]));
        assert_eq!(g, 1);
        assert!(WIDTHS.iter().all(|w| !w.is_power_of_two()));
    }
}
