//! `corti-admin-sim`: serves a simulated Corti Admin API until interrupted. See `--help`.

use std::process::ExitCode;

use clap::Parser;
use corti_operator::cli::error_chain;
use corti_operator::sim::{DEMO_EMAIL, DEMO_PASSWORD, DEMO_PROJECT, SimArgs, Simulator};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let args = SimArgs::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("corti-admin-sim: {}", error_chain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run(args: SimArgs) -> Result<(), Box<dyn std::error::Error>> {
    let listen = args.listen;
    let (config, demo) = args.into_config()?;
    let running = Simulator::bind(config, listen).await?;
    tracing::info!(listen = %running.addr, "corti-admin-sim listening");
    println!("corti-admin-sim: Admin API at {}", running.base_url);
    if demo.project {
        println!("  demo project:  {DEMO_PROJECT}");
    }
    if demo.account {
        println!("  demo account:  {DEMO_EMAIL} / {DEMO_PASSWORD} (admin)");
    }
    println!("  control:       {}/_sim (see --help)", running.base_url);
    corti_operator::runtime::shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await?;
    Ok(())
}
