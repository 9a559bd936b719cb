//! The HTML postmortem's building blocks: pure functions from data to markup, no I/O.

pub mod chart;
pub mod page;
