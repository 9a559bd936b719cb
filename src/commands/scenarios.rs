//! `flightdeck scenarios`: the built-in scenarios, one line each.

use crate::sim::scenario::{BUILTIN, Scenario};

pub fn run() -> anyhow::Result<()> {
    for (name, text) in BUILTIN {
        let scenario = Scenario::parse(name, text)?;
        println!(
            "{name:<22} {:<15} {}",
            scenario.category.map_or("none", |c| c.key()),
            scenario.summary
        );
    }
    Ok(())
}
