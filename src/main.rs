//! The `cartox` command line: a thin layer over the library.

mod cli;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc: the solver allocates small blocks per step (ode_solvers' dense output); measured
/// faster than the system allocator on sweeps (docs/sweep.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Like other Unix tools, stop quietly when the reader of our output goes away
    // (`cartox describe cartox | head`) instead of panicking in `println!`.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`cartox simulate --out - | head`) is not an error.
            let is_pipe = |io: &std::io::Error| io.kind() == std::io::ErrorKind::BrokenPipe;
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(is_pipe)
                    || c.downcast_ref::<cartox::Error>()
                        .is_some_and(|ce| ce.is_io_kind(std::io::ErrorKind::BrokenPipe))
                    || c.downcast_ref::<csv::Error>()
                        .is_some_and(|ce| match ce.kind() {
                            csv::ErrorKind::Io(io) => is_pipe(io),
                            _ => false,
                        })
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            // One line: the error and its causes.
            let msg: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", msg.join(": "));
            ExitCode::from(1)
        }
    }
}
