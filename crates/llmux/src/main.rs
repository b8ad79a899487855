//! `llmux`: run AI coding-agent CLIs in named tmux sessions.
//!
//! The binary is glue: it parses the command line, starts tracing for the daemon, dispatches
//! to one noun's `run`, and maps the outcome to an exit code (see [`exit`]).

mod attach;
mod cli;
mod exit;
mod hint;
mod output;
mod prompt;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The first process of a pane with a memory ceiling (hidden from help: the daemon's own
    // use, see `llmux_core::sandbox::cgroup`): enter the cgroup, exec the rest.
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == llmux_core::sandbox::cgroup::EXEC_ARG) {
        let error = llmux_core::sandbox::cgroup::exec_in(args);
        eprintln!("llmux: {error}");
        return ExitCode::from(126);
    }
    // Sockets passed by a service manager (`LISTEN_FDS`): taken, and made close-on-exec, while
    // this process has one thread (their variables leave the environment as they are read).
    llmux_server::systemd::capture_activation();
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("llmux: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let result = runtime.block_on(cli.run());
    // A blocking stdin read (session attach) must not hold the process open.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            // Escaped: a server's message may quote what a client sent (see `output::escape`).
            let mut text = format!("{err:#}");
            if let Some(hint) = hint::for_error(&err) {
                text = format!("{text}; {hint}");
            }
            eprintln!("llmux: {}", output::escape(&text, false));
            ExitCode::from(exit::code_for(&err))
        }
    }
}

/// `llmux session list | head -1` must not print an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
