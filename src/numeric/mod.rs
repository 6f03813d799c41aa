//! Numerics: activations, Gaussian expectations, kernel recursions, finite-width networks, ODEs.

pub mod activation;
pub mod eval;
pub mod tolerance;
pub mod closed;
pub mod error;
pub mod gauss;
pub mod kernel;

pub use error::NumericError;
