//! The `kbgap` command.

mod cli;
mod commands;
mod config;
mod context;
mod output;
mod signing;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// Loading the catalog snapshot is allocation-bound (hundreds of thousands of small values);
/// mimalloc makes it markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::cli::{CatalogCommand, Cli, Command, MachinesCommand};
use crate::context::Context;

fn main() -> ExitCode {
    let args = config::apply(std::env::args_os().collect(), &Cli::command(), &|name| {
        std::env::var_os(name)
    });
    let cli = match args {
        Ok(args) => Cli::parse_from(args),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(cli.quiet, matches!(cli.command, Command::Serve(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let ctx = Context::new(&cli)?;
    if let Some(file) = &cli.config {
        tracing::debug!(
            "settings from {} (flags and environment override it)",
            file.display()
        );
    }
    match &cli.command {
        Command::Scan(args) => return commands::scan::run(&ctx, args).await.map(|c| c as u8),
        Command::Serve(args) => commands::serve::run(&ctx, args).await?,
        Command::Catalog(CatalogCommand::Import { paths, kev }) => {
            commands::catalog::import(&ctx, paths, kev.as_deref()).await?
        }
        Command::Catalog(CatalogCommand::Sync { base_url, kev_url }) => {
            commands::catalog::sync(&ctx, base_url, kev_url).await?
        }
        Command::Catalog(CatalogCommand::Stats { format }) => {
            commands::catalog::stats(&ctx, *format).await?
        }
        Command::Kb(args) => commands::kb::run(&ctx, &args.id, args.format).await?,
        Command::Token(args) => commands::token::run(&ctx, args).await?,
        Command::Machines(MachinesCommand::Import { files }) => {
            commands::machines::import(&ctx, files).await?
        }
        Command::Machines(MachinesCommand::List {
            format,
            inactive,
            all,
            tags,
        }) => {
            let which = cli::Which::from_flags(*inactive, *all);
            commands::machines::list::run(&ctx, *format, which, tags).await?
        }
        Command::Machines(MachinesCommand::Delete { machines }) => {
            commands::machines::remove::delete(&ctx, machines).await?
        }
        Command::Machines(MachinesCommand::Purge {
            older_than,
            dry_run,
            force,
        }) => commands::machines::remove::purge(&ctx, older_than, *dry_run, *force).await?,
    }
    Ok(0)
}

/// Logs go to stderr; `KBGAP_LOG` (or `RUST_LOG`) overrides the level. The server logs at info,
/// other commands only warnings, so their stdout stays clean for pipes.
fn init_tracing(quiet: bool, server: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (server, quiet) {
        (_, true) => "error",
        (true, false) => "info",
        (false, false) => "warn",
    };
    let filter = std::env::var("KBGAP_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    // Colours only for a person watching: a log file or journal gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}
