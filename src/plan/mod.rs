//! `gauntlet plan`: the largest value of one scenario key (users, a stage's rate, a tenant's
//! share) at which the scenario still meets an SLO, found by a bracketing search in simulation
//! and optionally confirmed by one real run. Capacity planning is a question with one number for
//! an answer; a sweep's grid answers it only to the grid's spacing and at many times the cost.
//!
//! [`spec`] reads the arguments, [`search`] decides which values to probe, [`probe`] runs them
//! (each a whole simulated run, several at once) and [`confirm`] runs the answer on real time.

pub mod confirm;
pub mod probe;
pub mod search;
pub mod spec;
