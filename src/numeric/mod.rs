//! Numerics: activations, Gaussian expectations, kernel recursions, finite-width networks, ODEs.

pub mod activation;
pub mod eval;
pub mod tolerance;
