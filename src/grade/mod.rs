//! `gauntlet grade`: a resilience scorecard for any system under test (a gateway, an app on an
//! SDK, `gauntlet proxy`). Each [`Question`] has a short ready-made scenario in
//! `scenarios/grade/`; the system sits between the driver and the embedded mock, and the
//! question's [rule](rule::judge) reads what the upstream saw (`upstream_view`) and what the
//! callers saw. The [`Scorecard`] is written as a terminal table, `scorecard.md`, `junit.xml`,
//! `scorecard.html` and `scorecard.json`.

pub mod files;
pub mod html;
pub mod junit;
pub mod observed;
pub mod question;
pub mod rule;
pub mod runner;
pub mod scorecard;

pub use observed::Observed;
pub use question::{Question, UnknownQuestion};
pub use rule::{judge, Evidence, Verdict};
pub use scorecard::{Answer, Scorecard};
