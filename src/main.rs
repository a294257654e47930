//! The qa-pipe binary: parse the command line, run it, print the error and pick the exit code.

use clap::Parser;

fn main() {
    let cli = qa_pipe::cli::Cli::parse();
    match qa_pipe::commands::dispatch(cli) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(e.exit_code());
        }
    }
}
