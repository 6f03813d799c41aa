//! Numerics: activations, Gaussian expectations, kernel recursions, finite-width networks, ODEs.

pub mod activation;
pub mod diff;
pub mod network;
pub mod ode;
pub mod stats;
