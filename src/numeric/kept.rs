//! Gaussian expectations kept per thread, under what decides them ([`super::eval`]'s
//! `gauss_counted` and `gauss_uncached`): a `gauss(…)` is evaluated at every point of a link and
//! again in the violation search, often with the same body and covariance (a sum of n equal
//! expectations at an edge point ran one near-singular quadrature n times).
//!
//! A kept result carries the quadrature nodes and undecided jumps it cost, which the evaluator
//! charges again, so budgets (and the verdicts that depend on them) do not depend on which
//! thread saw an expectation first. Results are pure functions of their keys: the outputs are bit
//! for bit those of evaluating afresh.

use super::error::NumericError;
use super::eval::{EvalError, HashMap, Value};
use super::gauss::Estimate;
use std::cell::RefCell;
use std::hash::Hash;

/// A result with the nodes it took and the jumps it tallied.
pub(crate) type Entry<R> = (R, usize, u64);

/// The key of gauss(…; f(u)·g(v)) of table functions: each function and its derivative by
/// address (`None` for u or v itself), and the covariance entries' values, scales and errors by
/// their bits.
pub(crate) type DirectKey = (Option<(usize, usize)>, Option<(usize, usize)>, Vec<u64>);

/// What a direct body keeps: its value (or why it has none).
type DirectEntry = Entry<Result<Value, EvalError>>;

/// What a compiled body keeps: the quadrature's estimate (or why there is none).
type CompiledEntry = Entry<Result<Estimate, NumericError>>;

/// Results of direct bodies kept per thread at most (then the memo starts afresh).
const DIRECT_MOST: usize = 1 << 14;

/// Numbers in the key of a compiled body (its instructions, form and covariance) at most: a body
/// with an unrolled sum of thousands of terms is evaluated afresh.
pub(crate) const COMPILED_KEY_MOST: usize = 4096;

/// Results of compiled bodies kept per thread at most: 4,096 keys of at most 32 KB bound a
/// thread's memo at 128 MB.
const COMPILED_MOST: usize = 1 << 12;

/// A map that starts afresh when it holds `most` entries.
pub(crate) struct Kept<K, V> {
    map: HashMap<K, V>,
    most: usize,
}

impl<K: Hash + Eq, V: Clone> Kept<K, V> {
    pub(crate) fn new(most: usize) -> Self {
        Kept {
            map: HashMap::default(),
            most,
        }
    }

    pub(crate) fn get(&self, k: &K) -> Option<V> {
        self.map.get(k).cloned()
    }

    /// The kept value, borrowed.
    pub(crate) fn get_ref(&self, k: &K) -> Option<&V> {
        self.map.get(k)
    }

    pub(crate) fn keep(&mut self, k: K, v: V) {
        if self.map.len() >= self.most {
            self.map.clear();
        }
        self.map.insert(k, v);
    }
}

thread_local! {
    static DIRECT: RefCell<Kept<DirectKey, DirectEntry>> =
        RefCell::new(Kept::new(DIRECT_MOST));
    static COMPILED: RefCell<Kept<Vec<u64>, CompiledEntry>> =
        RefCell::new(Kept::new(COMPILED_MOST));
}

/// The kept value of a direct body.
pub(crate) fn direct(k: &DirectKey) -> Option<DirectEntry> {
    DIRECT.with(|m| m.borrow().get(k))
}

/// Keeps the value of a direct body.
pub(crate) fn keep_direct(k: DirectKey, v: DirectEntry) {
    DIRECT.with(|m| m.borrow_mut().keep(k, v));
}

/// The kept estimate of a compiled body.
pub(crate) fn compiled(k: &[u64]) -> Option<CompiledEntry> {
    COMPILED.with(|m| m.borrow().map.get(k).cloned())
}

/// Keeps the estimate of a compiled body (a key longer than [`COMPILED_KEY_MOST`] is not kept).
pub(crate) fn keep_compiled(k: Vec<u64>, v: CompiledEntry) {
    if k.len() <= COMPILED_KEY_MOST {
        COMPILED.with(|m| m.borrow_mut().keep(k, v));
    }
}

/// Forgets the expectations kept by this thread: a benchmark that checks the suite several times
/// in one process measures each run from a fresh state, as `derive check --all` runs.
pub fn forget() {
    DIRECT.with(|m| m.borrow_mut().map.clear());
    COMPILED.with(|m| m.borrow_mut().map.clear());
}
