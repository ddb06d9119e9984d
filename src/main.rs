//! The `facefix` binary: argument parsing and wiring only.

mod cli;
mod roles;
mod shutdown;

use clap::Parser;
use cli::{Cli, Command};
use facefix_shared::telemetry;
use std::process::ExitCode;

fn main() -> ExitCode {
    let command = match Cli::parse().command {
        // The offline CLI needs no runtime, services or telemetry.
        Command::Restore(args) => {
            return match roles::restore::run(&args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("facefix restore: {error}");
                    ExitCode::from(error.exit_code())
                }
            };
        }
        server_role => server_role,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("facefix: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("facefix: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    let (role, telemetry_args) = match &command {
        Command::Serve(args) => ("serve", &args.telemetry),
        Command::Api(args) => ("api", &args.telemetry),
        Command::Worker(args) => ("worker", &args.telemetry),
        Command::Sweeper(args) => ("sweeper", &args.telemetry),
        Command::Restore(_) => anyhow::bail!("`restore` is not a server role"),
    };
    let guard = telemetry::init(telemetry_args, role)?;
    let shutdown = shutdown::on_signal();
    let result = match command {
        Command::Serve(args) => roles::serve::run(*args, shutdown).await,
        Command::Api(args) => roles::api::run(args, shutdown).await,
        Command::Worker(args) => roles::worker::run(args, shutdown).await,
        Command::Sweeper(args) => roles::sweeper::run(args, shutdown).await,
        Command::Restore(_) => Ok(()),
    };
    guard.shutdown().await;
    result
}
