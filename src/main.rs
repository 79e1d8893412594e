//! The `wabaguard` binary: parse the command line, dispatch into the library.

fn main() -> std::process::ExitCode {
    wabaguard::commands::main()
}
