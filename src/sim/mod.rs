//! Admin API simulator.
