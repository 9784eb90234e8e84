//! The `hourglass` binary.

fn main() -> std::process::ExitCode {
    hourglass_cli::main()
}
