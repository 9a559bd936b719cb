use chrono::Duration;
use flightdeck::engine::{Engine, EngineConfig, signals::schema::SchemaRegistry};
use flightdeck::sim::{Simulator, SimOutput, scenario::{Scenario, BUILTIN}};
fn main() {
    for (name, _) in BUILTIN {
        let scenario = Scenario::resolve(name).unwrap();
        let mut schemas = SchemaRegistry::default();
        for (n, s) in flightdeck::sim::schemas() { schemas.register(n, &s).unwrap(); }
        let mut engine = Engine::new(EngineConfig::default(), schemas);
        let start = scenario.start;
        let mut sim = Simulator::new(scenario, 42);
        let mut first = None;
        for minute in 1..=150 {
            let t = start + Duration::minutes(minute);
            for o in sim.advance_to(t) {
                match o { SimOutput::Call(c) => { engine.ingest_call(&c); } SimOutput::Change(c) => { engine.ingest_change(c); } }
            }
            let a = engine.evaluate(t);
            if let Some(e) = &a.episode { if first.is_none() { first = Some(t); println!("{name}: first alarm {t} metrics {:?} onset {:?}", e.metrics, e.onset);} }
            if minute % 10 == 0 || (first.is_some() && (t - first.unwrap()).num_minutes() == 5) {
                let line: Vec<String> = a.metrics.iter().map(|m| format!("{}={:.3?}:{}", m.id.key(), m.now, m.state)).collect();
                println!("  {t} {}", line.join(" "));
                if let Some(tr) = &a.triage { for s in &tr.steps { println!("     {:?} {:?} {:?}", s.category, s.verdict, s.evidence); } }
            }
        }
    }
}
