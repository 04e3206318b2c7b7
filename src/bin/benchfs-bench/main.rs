//! benchfs-bench: the IOR-compatible benchmark harness. A thin binary: logging setup, argument
//! parsing and the exit status; everything else lives in `benchfs::ior`. A first argument
//! naming a result subcommand (`import`, `compare`, `report`, `export`, `sweep`) is handed to
//! `benchfs::results::cli` instead.

use benchfs::ior::{driver, log, options};

fn main() {
    // Internal diagnostics (RUST_LOG) go to stderr; results never do.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let argv: Vec<String> = std::env::args().collect();
    // Result subcommands (import, compare, report, export, sweep) are not IOR runs.
    if let Some(cmd) = argv.get(1) {
        if benchfs::results::cli::SUBCOMMANDS.contains(&cmd.as_str()) {
            std::process::exit(benchfs::results::cli::main(argv[1..].to_vec()));
        }
    }
    let command_line = argv.join(" ");
    let args = argv.get(1..).unwrap_or_default().to_vec();
    let parsed = match options::parse_args(&args) {
        Ok(p) => p,
        Err(e) => {
            log::line(&e.to_string());
            std::process::exit(driver::EXIT_ERROR);
        }
    };
    if parsed.help {
        print!("{}", options::help_text());
        std::process::exit(driver::EXIT_ERROR);
    }
    std::process::exit(driver::execute_with(
        parsed,
        &command_line,
        Some(&benchfs::ior::injob::InJobCluster),
    ));
}
