//! Parses the command line and hands off; nothing else.

use std::process::ExitCode;

use clap::Parser;
use flightdeck::cli::{Cli, CommandLine, DemoArgs};
use flightdeck::commands::{self, BadInput};
use flightdeck::{config, incident::store, logging};

// The triage reads calls at 100k a second, each a few dozen small strings; mimalloc makes the
// allocations a quarter of what the system allocator costs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let data_dir = config::data_dir(cli.global.data_dir.clone());
    let result = (|| {
        let command = cli
            .command
            .unwrap_or_else(|| CommandLine::Demo(DemoArgs::defaults()));
        match &command {
            CommandLine::Demo(args) => {
                let config = commands::load_config(&cli.global)?;
                store::ensure_writable(&data_dir)?;
                let _log = logging::init(&data_dir)?;
                commands::demo::run(&cli.global, &config, args, &data_dir)
            }
            CommandLine::Drill(args) => {
                let config = commands::load_config(&cli.global)?;
                store::ensure_writable(&data_dir)?;
                let _log = logging::init(&data_dir)?;
                commands::drill::run(&cli.global, &config, args, &data_dir)
            }
            CommandLine::Scenarios => commands::scenarios::run(),
            CommandLine::Incidents => commands::incidents::run(&data_dir),
            CommandLine::Export(args) => {
                commands::export::run(&data_dir, &commands::load_config(&cli.global)?, args)
            }
            CommandLine::Watch(args) => {
                let config = commands::load_config(&cli.global)?;
                store::ensure_writable(&data_dir)?;
                let _log = logging::init(&data_dir)?;
                commands::watch::run(&cli.global, &config, args, &data_dir)
            }
            CommandLine::Replay(args) => {
                let config = commands::load_config(&cli.global)?;
                store::ensure_writable(&data_dir)?;
                let _log = logging::init(&data_dir)?;
                commands::replay::run(&cli.global, &config, args, &data_dir)
            }
            CommandLine::Triage(args) => {
                commands::triage::run(&commands::load_config(&cli.global)?, args)
            }
            CommandLine::Record(args) => {
                let config = commands::load_config(&cli.global)?;
                let _log = logging::init(&data_dir)?;
                commands::record::run(&config, args)
            }
            CommandLine::Check(args) => {
                commands::check::run(&commands::load_config(&cli.global)?, args, &data_dir)
            }
            CommandLine::Runbook(args) => {
                let path = config::file::locate(cli.global.config.clone(), config::config_dir());
                let config = commands::load_config(&cli.global)?;
                commands::runbook::run(&config, path.as_deref(), args)
            }
        }
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let said = format!("{error:#}");
            eprintln!("flightdeck: {}", flightdeck::visible::escaped(&said));
            if error.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
