//! Numerics: activations, Gaussian expectations, kernel recursions, finite-width networks, ODEs.

pub mod activation;
pub mod closed;
pub mod diff;
pub mod error;
pub mod eval;
pub mod features;
pub mod gauss;
pub(crate) mod integrand;
pub mod kept;
pub mod kernel;
pub mod network;
pub mod ode;
pub mod portable;
pub mod precise;
pub mod stats;
pub mod tolerance;

pub use error::NumericError;
