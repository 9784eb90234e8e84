//! The `hourglass` command line. Its subcommands arrive with the CLI issue.

fn main() -> std::process::ExitCode {
    eprintln!(
        "hourglass: no subcommands are implemented yet in this build; `hourglass run` arrives with the CLI issue"
    );
    std::process::ExitCode::FAILURE
}
