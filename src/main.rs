use std::process::ExitCode;

fn main() -> ExitCode {
    vanguard::cli::main()
}
