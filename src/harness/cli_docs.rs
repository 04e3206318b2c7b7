//! Shell completions and man pages of both binaries, generated from their definitions:
//! benchfs-bench's IOR options from the IOR option table
//! ([`crate::ior::options::ior_command`]), `mdtest` from mdtest's table
//! ([`crate::mdtest::options::command`]), `md-workbench` from its table
//! ([`crate::mdworkbench::options::command`]), `io500` and the result subcommands (clap), and
//! benchfs-server's clap command. `benchfs-bench completions SHELL` and `benchfs-bench man`
//! print or write them; `scripts/install-shell-files.sh` installs them.
//!
//! Owns putting the commands together and writing their renderings. It must not define
//! options (the tables and the clap definitions do).

use crate::ior::options::ior_command;
use clap::Command;
use clap_complete::Shell;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One of the two binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Binary {
    /// The benchmark harness.
    BenchfsBench,
    /// The server daemon.
    BenchfsServer,
}

/// benchfs-bench as one command: IOR's options, then `subcommands` (the result
/// subcommands' clap command, whose subcommands are taken).
pub fn bench_command(subcommands: &Command) -> Command {
    let mut cmd = ior_command("benchfs-bench")
        .version(crate::build_info::VERSION)
        .about("IOR-compatible benchmark harness running on BenchFS and POSIX file systems")
        .long_about(
            "benchfs-bench runs IOR workloads with IOR's options, output and result \
             formats (`benchfs-bench -w -r -b 4m -t 1m -o /path/file`), locally with -N tasks \
             or as an MPI job. Its subcommands import, compare, report and export results.",
        );
    cmd = cmd
        .subcommand(crate::mdtest::options::command("mdtest"))
        .subcommand(crate::mdworkbench::options::command("md-workbench"))
        .subcommand(
            <crate::harness::io500::Io500Args as clap::CommandFactory>::command().name("io500"),
        );
    for s in subcommands.get_subcommands() {
        cmd = cmd.subcommand(s.clone());
    }
    cmd
}

/// The command of `bin`.
fn command_of(bin: Binary, subcommands: &Command) -> Command {
    match bin {
        Binary::BenchfsBench => bench_command(subcommands),
        Binary::BenchfsServer => crate::harness::server::command(),
    }
}

/// Writes the completion script of `bin` for `shell` to `out`.
pub fn completions(bin: Binary, shell: Shell, subcommands: &Command, out: &mut dyn Write) {
    let mut cmd = command_of(bin, subcommands);
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, out);
}

/// The man page of `cmd` (section 1).
fn render(cmd: Command) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf)?;
    Ok(buf)
}

/// The man page of `bin` (without the subcommands' pages).
pub fn man_page(bin: Binary, subcommands: &Command) -> std::io::Result<Vec<u8>> {
    render(command_of(bin, subcommands))
}

/// Writes every man page into `dir`: `benchfs-bench.1`, one `benchfs-bench-<sub>.1` per
/// subcommand and `benchfs-server.1`. Returns the files written.
pub fn write_man_pages(dir: &Path, subcommands: &Command) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let bench = bench_command(subcommands);
    let mut pages: Vec<(String, Command)> = vec![("benchfs-bench".into(), bench.clone())];
    for s in bench.get_subcommands() {
        let name = format!("benchfs-bench-{}", s.get_name());
        let page = s
            .clone()
            .name(name.clone())
            .version(crate::build_info::VERSION);
        pages.push((name, page));
    }
    pages.push(("benchfs-server".into(), crate::harness::server::command()));
    let mut written = Vec::new();
    for (name, cmd) in pages {
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, render(cmd)?)?;
        written.push(path);
    }
    Ok(written)
}
