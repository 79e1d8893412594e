//! Command implementations: thin glue between the CLI and the library.

pub mod lint;
pub mod optin;
pub mod rules;
pub mod run;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, GlobalArgs, LogFormat};

/// Outcome of a command, mapped to the documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: ran fine.
    Ok,
    /// 1: policy failure (`--fail-on` reached, gate refused).
    Policy,
}

/// A command that could not run (exit 2). The message names the file, line
/// or field at fault and never contains a secret.
#[derive(Debug)]
pub struct CmdError(pub String);

impl<E: std::fmt::Display> From<E> for CmdError {
    fn from(e: E) -> Self {
        CmdError(e.to_string())
    }
}

pub type CmdResult = Result<Outcome, CmdError>;

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.global);
    let res = match cli.command {
        Command::Run(args) => run::run(&args, &cli.global),
        Command::LintTemplates(args) => lint::lint(&args, &cli.global),
        Command::Rules(args) => rules::rules(&args),
        Command::Optin(args) => optin::optin(&args, &cli.global),
    };
    match res {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Policy) => ExitCode::from(1),
        Err(CmdError(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(g: &GlobalArgs) {
    let default = if g.quiet {
        "error"
    } else {
        match g.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_env("WABAGUARD_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("wabaguard={default},warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match g.log_format {
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init(),
    };
}
