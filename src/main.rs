//! The `swe-swe` binary: flags → config → server, until SIGINT or SIGTERM.
#![forbid(unsafe_code)]

use anyhow::Context;
use clap::Parser;
use std::process::ExitCode;
use swe_swe::config::Args;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// jemalloc: with glibc's malloc a line allocated on one runtime thread
/// and freed on the other (tasks move between them) waited on an arena
/// lock inside `free` — futex calls on the hot path of every agent line.
/// Server CPU per event −10 %, RSS +20 % (docs/PERFORMANCE.md, session 7).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal (a file or pipe got escape codes), and
        // never when NO_COLOR is set (no-color.org).
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("swe-swe: {e:#}");
            // 3: the data folder or database cannot be used; 2: anything else.
            let storage = e.downcast_ref::<swe_swe::store::StoreError>().is_some();
            ExitCode::from(if storage { 3 } else { 2 })
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let config = Args::parse().into_config()?;
    raise_fd_limit();
    let options = swe_swe::store::StoreOptions {
        commit_interval: config.commit_interval,
        ..Default::default()
    };
    let store = swe_swe::store::Store::open_with(&config.data_dir, options)?;
    swe_swe::server::clean_up_after_previous_server(&store).await;
    let addr = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    // Tests and scripts read this line to find the port.
    println!("swe-swe listening on http://{local}{}/", config.prefix);
    if let Some(token) = &config.token {
        // Printed once, on stdout only: logs never carry it.
        println!("open http://{local}{}/?token={token}", config.prefix);
    }
    tracing::info!(workdir = %config.workdir.display(), data = %config.data_dir.display(), agent = ?config.agent, "serving");

    let shutdown = CancellationToken::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let token = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
        token.cancel();
    });
    swe_swe::server::serve(listener, config, store, shutdown).await?;
    Ok(())
}

/// Each tab is a socket and each agent three pipes: lift the soft descriptor
/// limit to the hard one so a few thousand connections fit.
fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::warn!("could not raise the open-file limit: {e}");
            }
        }
    }
}
