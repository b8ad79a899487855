//! Asking the person at the terminal: passphrases (no echo), names, yes/no confirmations.
//!
//! Nothing here asks when stdin is not a terminal: scripts get a clear error naming the flag
//! or variable to use instead.
//!
//! Ctrl-C: the CLI runs every client command under a SIGINT handler (see `cli::Cli::run`).
//! That matters for passphrases: `rpassword` reads in raw mode and, on Ctrl-C, raises SIGINT
//! *before* it restores the terminal, so with the default disposition the process would die
//! with echo off. With the handler installed it returns `Interrupted` after restoring.
//! Passphrase prompts therefore run on the calling task (so nothing can exit the process
//! before the terminal is restored); line prompts run on a thread, so Ctrl-C ends them at once.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result, bail};

/// Whether stdin is a terminal a person can answer on.
pub(crate) fn is_interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// The value of the environment variable `var`, when set and not empty.
pub(crate) fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

/// A secret: `$var` if set, else asked for without echo; `missing` is the error when there is
/// no terminal to ask on.
pub(crate) fn secret(var: &str, prompt: &str, missing: &str) -> Result<String> {
    if let Some(value) = env(var) {
        return Ok(value);
    }
    if !is_interactive() {
        bail!("{missing}");
    }
    ask_secret(prompt)
}

/// A new passphrase: `given`, else `$var`, else asked twice without echo.
pub(crate) fn new_secret(
    given: Option<String>,
    var: &str,
    prompt: &str,
    missing: &str,
) -> Result<String> {
    if let Some(value) = given.or_else(|| env(var)) {
        return Ok(value);
    }
    if !is_interactive() {
        bail!("{missing}");
    }
    let first = ask_secret(prompt)?;
    let second = ask_secret("Confirm passphrase: ")?;
    if first != second {
        bail!("passphrases did not match");
    }
    Ok(first)
}

fn ask_secret(prompt: &str) -> Result<String> {
    match rpassword::prompt_password(prompt) {
        Ok(value) => Ok(value),
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
            bail!("passphrase entry cancelled")
        }
        Err(e) => Err(e).context("cannot read the passphrase from the terminal"),
    }
}

/// One line typed at the terminal (trimmed), after `prompt` on stderr.
pub(crate) async fn line(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A plain thread, not spawn_blocking: a read that Ctrl-C abandons must not keep the
    // runtime from shutting down.
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = tx.send(std::io::stdin().lock().read_line(&mut line).map(|_| line));
    });
    let line = rx.await.context("the terminal reader stopped")?.context("cannot read stdin")?;
    Ok(line.trim().to_owned())
}

/// Asks `question [y/N]`; `yes` (from `--yes`) answers for the person. Without a terminal and
/// without `--yes`, fails naming `what` needs it.
pub(crate) async fn confirm(question: &str, yes: bool, what: &str) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !is_interactive() {
        bail!("{what} without --yes needs an interactive terminal");
    }
    let answer = line(&format!("{question} [y/N] ")).await?;
    Ok(matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes"))
}
