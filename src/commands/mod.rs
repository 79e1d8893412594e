//! Command implementations: thin glue between the CLI and the library.

pub mod daemon;
pub mod diagnose;
pub mod gate;
pub mod lint;
pub mod optin;
pub mod optouts;
pub mod rules;
pub mod run;
pub mod snapshot;
pub mod triage;

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

/// Standard output for a command's result. A reader that goes away early
/// (`wabaguard rules list | head`) is no error: the rest of the output is
/// dropped and the command ends with its own exit code, as `lint-templates`
/// does.
pub struct Stdout {
    inner: std::io::Stdout,
    closed: bool,
}

pub fn stdout() -> Stdout {
    Stdout {
        inner: std::io::stdout(),
        closed: false,
    }
}

impl Stdout {
    /// The reader went away: nothing more will be written.
    pub fn closed(&self) -> bool {
        self.closed
    }

    fn absorb<T>(&mut self, r: std::io::Result<T>, or: T) -> std::io::Result<T> {
        match r {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(or)
            }
            r => r,
        }
    }
}

impl std::io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let r = self.inner.write(buf);
        self.absorb(r, buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.inner.flush();
        self.absorb(r, ())
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A daemon reports what it does (runs, skipped ticks, shutdown) by default.
    init_logging(&cli.global, matches!(cli.command, Command::Daemon(_)));
    let res = match cli.command {
        Command::Run(args) => run::run(&args, &cli.global),
        Command::LintTemplates(args) => lint::lint(&args, &cli.global),
        Command::Rules(args) => rules::rules(&args),
        Command::Snapshot(args) => snapshot::snapshot(&args, &cli.global),
        Command::Diagnose(args) => diagnose::diagnose(&args),
        Command::Optin(args) => optin::optin(&args, &cli.global),
        Command::Optouts(args) => optouts::optouts(&args, &cli.global),
        Command::Daemon(args) => daemon::daemon(&args),
        Command::Gate(args) => gate::gate(&args),
        Command::Triage(args) => triage::triage(&args, &cli.global),
    };
    if std::env::var_os("WABAGUARD_REPORT_RSS").is_some() {
        report_peak_rss();
    }
    match res {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Policy) => ExitCode::from(1),
        Err(CmdError(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// A progress bar on stderr for long collections: visible only on a
/// terminal and without `--quiet`.
pub fn progress_bar(quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} collecting from the Graph API [{bar:30}] {pos}/{len} requests ({elapsed})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// The time an audit runs at: now, or `WABAGUARD_NOW` (RFC 3339) when set —
/// to audit an export as of the day it was saved, and for reproducible tests.
pub fn now() -> Result<chrono::DateTime<chrono::Utc>, CmdError> {
    match std::env::var("WABAGUARD_NOW") {
        Ok(v) if !v.trim().is_empty() => chrono::DateTime::parse_from_rfc3339(v.trim())
            .map(|d| d.with_timezone(&chrono::Utc))
            .map_err(|e| CmdError(format!("WABAGUARD_NOW=`{v}` is not an RFC 3339 time: {e}"))),
        _ => Ok(chrono::Utc::now()),
    }
}

fn init_logging(g: &GlobalArgs, info_by_default: bool) {
    let default = if g.quiet {
        "error"
    } else {
        match g.verbose {
            0 if info_by_default => "info",
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

/// Prints the process's peak resident set size (VmHWM) to stderr; used by
/// the benchmarks (`WABAGUARD_REPORT_RSS=1`).
fn report_peak_rss() {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(v) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .map(|v| v.trim().trim_end_matches("kB").trim().to_owned())
        {
            eprintln!("peak_rss_kib={v}");
        }
    }
}
