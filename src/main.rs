//! Parse the command line and dispatch; nothing else.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cutover::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and --version are answers, not errors; anything else clap refuses is
            // bad usage, which exits 64 like every other usage error of cutover.
            return if e.use_stderr() {
                ExitCode::from(cutover::cmd::exit::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cutover::cmd::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // Not `eprintln!`: with the terminal gone it would panic instead of exiting
            // with the code that says what happened.
            let _ = writeln!(std::io::stderr(), "{failure}");
            ExitCode::from(failure.code)
        }
    }
}
