//! `corti-operator`: see `corti-operator --help`.

use std::process::ExitCode;

use clap::Parser;
use corti_operator::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = match &cli.command {
        Command::Run(args) => args.worker_threads,
        Command::Crds { .. } | Command::Export(_) => 1,
    };
    let runtime = match cli::runtime(threads) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("corti-operator: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Crds { dir } => cli::print_crds(dir),
            Command::Export(args) => corti_operator::export::run(*args).await.map_err(Into::into),
            Command::Run(args) => {
                cli::init_logging(args.log_format);
                corti_operator::runtime::run(*args)
                    .await
                    .map_err(Into::into)
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("corti-operator: {}", cli::error_chain(&error));
            ExitCode::FAILURE
        }
    }
}
