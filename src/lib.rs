//! # Gauntlet
//!
//! Puts an LLM client stack through the gauntlet before production: a fault-injecting,
//! OpenAI-compatible mock upstream ([`mock_upstream`]), the resilience layers a production
//! integration needs ([`client`], the `gauntlet-client` crate), a load driver with honest latency
//! measurement ([`driver`]), what a run records ([`record`]) and the reports made from it
//! ([`report`]), and virtual-time simulation ([`sim`]).
//!
//! This is the toolkit. A service that wants only the stack depends on `gauntlet-client` (and
//! `gauntlet-wire` for the wire types), which bring no server, charts or CLI; they are
//! re-exported here as [`client`] and [`wire`] so the toolkit's users have one dependency.
//!
//! Data flows one way: [`scenario`] -> [`driver`] -> [`record`] <- [`report`]; the simulation,
//! sweeps and the CLI sit on top.

pub use gauntlet_client as client;
pub use gauntlet_wire as wire;
pub use mock_upstream;

pub mod cli;
pub mod driver;
pub mod grade;
pub mod in_process;
pub mod plan;
pub mod proxy;
pub mod record;
pub mod report;
pub mod scenario;
pub mod signals;
pub mod sim;
pub mod system;
pub mod wall_clock;
