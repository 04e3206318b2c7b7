//! benchfs-server, the server daemon: its command line, joining the cluster of an MPI job,
//! and one BenchFS server process serving until it is signalled.
//!
//! Joins (or creates) the cluster described by `--registry`, serves its `--data-dir` (one
//! server per data directory: a second one fails at once), and registers its address
//! atomically. Once the cluster is complete, a server restarted on a data directory with
//! chunks removes those of files the cluster no longer has (`crate::fs::reclaim`). On
//! SIGTERM or SIGINT it deregisters, stops accepting, finishes in-flight requests, flushes
//! its metadata and exits 0.
//!
//! What it leaves behind, by design (see [`LEAVES`], also in `--help`): the data directory
//! (the files, to be served again by a server restarted on it) and the registry; a server
//! killed (SIGKILL, a crash) also leaves its registry entry and its spare chunk files, which
//! the next server on that data directory removes.
//!
//! Under `mpirun -np N` (cargo feature `mpi`) the N processes form one cluster: the expected
//! size defaults to N, `%r` in `--data-dir` becomes the rank, and rank 0 creates the registry
//! (one secret, one epoch) before the others join. MPI is finalised once all have joined; the
//! servers then run as plain processes until they are signalled.

use crate::fs::reclaim::reclaim_dead_chunks;
use crate::fs::registry::{Registry, ServerEntry};
use crate::fs::transport::choice::ServerTransports;
use crate::fs::wire::{check_chunk_size, DEFAULT_CHUNK_SIZE};
use crate::fs::{Client, FsError, RunningServer, ServerConfig};
use clap::Parser;
use std::path::PathBuf;

/// What a stopped server leaves on disk (the end of `--help`).
pub const LEAVES: &str = "\
What it leaves: a stopped server (SIGTERM, SIGINT) removes its registry entry and its
spare chunk files, and keeps its data directory (chunks, meta.log, store_id, lock,
tails: mode 0700/0600), so that a server restarted on it serves every file closed or
fsynced before; remove the directory to free the space. The registry (cluster.json,
secret, servers/) stays for the other servers and clients of the cluster. A killed
server (SIGKILL, a crash) also leaves its registry entry (replaced when it starts again)
and its spare files (removed by the next server on that data directory, which also gives
back the space preallocated past the end of chunks and reclaims the chunks of files
deleted while it was down).";

/// Command line of benchfs-server.
#[derive(Debug, Parser)]
#[command(
    name = "benchfs-server",
    version,
    about = "BenchFS server daemon",
    after_help = LEAVES
)]
struct Args {
    /// Registry directory shared by the servers and clients of the cluster.
    #[arg(long)]
    registry: PathBuf,
    /// Data directory of this server (created if absent).
    #[arg(long = "data-dir")]
    data_dir: PathBuf,
    /// Address to listen on (TCP).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Transports clients may use: tcp, ucx (needs a build with cargo feature ucx) or both.
    #[arg(long, default_value = "tcp", value_parser = parse_transports)]
    transport: ServerTransports,
    /// Number of servers in the cluster (clients wait for all of them) [default: 1, or the
    /// number of processes under mpirun].
    #[arg(long)]
    servers: Option<usize>,
    /// Default chunk size of new files (power of two, 64K..64M; suffixes k, m).
    #[arg(long = "chunk-size", value_parser = parse_size)]
    chunk_size: Option<u32>,
    /// Most requests in progress at once.
    #[arg(long = "max-in-flight", default_value_t = 256)]
    max_in_flight: usize,
    /// Most requests in progress at once from one client connection (so that one client
    /// cannot take every slot).
    #[arg(long = "max-in-flight-per-connection", default_value_t = 64)]
    max_in_flight_per_connection: usize,
    /// Most client connections open at once; beyond, a new connection is refused with a
    /// clear error [default: a quarter of the descriptor limit, which is raised to its hard
    /// limit at start].
    #[arg(long = "max-connections")]
    max_connections: Option<usize>,
    /// Seconds a client has to send a request it has begun, and to take a reply, before
    /// its connection is dropped.
    #[arg(long = "io-timeout", default_value_t = 30.0)]
    io_timeout: f64,
    /// Open chunk files with O_DIRECT.
    #[arg(long)]
    odirect: bool,
    /// Chunk files of the cluster's chunk size kept preallocated, so that writes into new
    /// chunks do not allocate storage as their data arrives (0: none). Beyond 4 they are
    /// made only while the server is idle. They count as free space, never take more than
    /// an eighth of it, and are given up when the file system runs out.
    #[arg(long = "spare-chunks", default_value_t = crate::fs::server::spare::DEFAULT_SPARE_CHUNKS)]
    spare_chunks: usize,
}

/// benchfs-server's command line as clap defines it (for its completions and man page).
pub fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

/// `--transport`: tcp, ucx or both.
fn parse_transports(s: &str) -> Result<ServerTransports, String> {
    ServerTransports::parse(s).map_err(|e| e.to_string())
}

/// `--chunk-size`: a size ([`crate::units::parse_size`]) that is a valid chunk size.
fn parse_size(s: &str) -> Result<u32, String> {
    let v = crate::units::parse_size(s).map_err(|e| e.to_string())?;
    let v = u32::try_from(v).map_err(|_| format!("size '{s}' is too large"))?;
    check_chunk_size(v).map_err(|e| e.to_string())
}

async fn run(args: Args) -> Result<(), FsError> {
    let reg = Registry::new(&args.registry);
    let info = reg.create_or_join(
        args.servers.unwrap_or(1),
        args.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE),
    )?;
    let secret = reg.secret()?;
    let mut cfg = ServerConfig::new(&args.data_dir, secret);
    cfg.listen = args.listen.clone();
    cfg.transports = args.transport;
    cfg.max_in_flight = args.max_in_flight;
    cfg.max_in_flight_per_connection = args.max_in_flight_per_connection;
    if let Some(n) = args.max_connections {
        cfg.max_connections = n;
    }
    cfg.limits.frame_timeout = std::time::Duration::try_from_secs_f64(args.io_timeout)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            FsError::InvalidArgument(format!(
                "--io-timeout {} is not a positive number of seconds",
                args.io_timeout
            ))
        })?;
    cfg.odirect = args.odirect;
    cfg.spare_chunks = args.spare_chunks;
    cfg.spare_chunk_size = info.chunk_size;
    let server = RunningServer::start(cfg).await?;
    let store_id = format!("{:016x}", server.store_id());
    reg.register(&ServerEntry {
        store_id: store_id.clone(),
        addr: server.tcp_addr().unwrap_or_default(),
        ucx: server.ucx_addr(),
        // Its own process has no clients.
        local: None,
        epoch: info.epoch,
        pid: std::process::id(),
    })?;
    let listening: Vec<String> = [("tcp", server.tcp_addr()), ("ucx", server.ucx_addr())]
        .into_iter()
        .filter_map(|(t, a)| a.map(|a| format!("{t} {a}")))
        .collect();
    println!(
        "benchfs-server listening on {} (store {store_id}, cluster of {})",
        listening.join(", "),
        info.expected_servers
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| FsError::from_io("install SIGTERM handler", &e))?;
    let reclaim = async {
        if server.holds_chunks() {
            match Client::connect(&args.registry).await {
                Ok(c) => {
                    if let Err(e) = reclaim_dead_chunks(&server, &c).await {
                        tracing::warn!("could not reclaim the chunks of deleted files: {e}");
                    }
                }
                Err(e) => tracing::info!("nothing reclaimed: cannot reach the cluster: {e}"),
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = reclaim => {}
    }
    eprintln!("benchfs-server: shutting down");
    reg.deregister(&store_id)?;
    server.shutdown().await
}

/// Under an MPI launcher: the processes of the job form one cluster (see the module docs).
#[cfg(feature = "mpi")]
fn join_mpi_job(args: &mut Args) -> Result<(), String> {
    use crate::comm::launch::{launch, Launch};
    use crate::comm::mpi::MpiSession;
    use crate::comm::Comm;
    if launch() == Launch::Standalone {
        return Ok(());
    }
    let session = MpiSession::init().map_err(|e| format!("cannot initialise MPI: {e}"))?;
    let world = session.world(0).map_err(|e| e.to_string())?;
    let (rank, size) = (world.rank(), world.size());
    match args.servers {
        None => args.servers = Some(size),
        Some(n) if n != size => {
            return Err(format!(
                "--servers {n} but the MPI job has {size} processes"
            ));
        }
        Some(_) => {}
    }
    args.data_dir = PathBuf::from(
        args.data_dir
            .to_string_lossy()
            .replace("%r", &rank.to_string()),
    );
    // Rank 0 creates the cluster (secret, epoch); the others join it afterwards.
    let mut failure = String::new();
    if rank == 0 {
        let reg = Registry::new(&args.registry);
        if let Err(e) = reg.create_or_join(size, args.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE)) {
            failure = e.to_string();
        }
    }
    let status = world
        .bcast_bytes(failure.as_bytes(), 0)
        .map_err(|e| e.to_string())?;
    if !status.is_empty() {
        return Err(format!(
            "rank 0 could not create the registry: {}",
            String::from_utf8_lossy(&status)
        ));
    }
    drop(world);
    drop(session);
    Ok(())
}

/// Without MPI support, one process of a multi-process MPI launch cannot form a cluster.
#[cfg(not(feature = "mpi"))]
fn join_mpi_job(_args: &mut Args) -> Result<(), String> {
    match crate::comm::launch::launch() {
        crate::comm::launch::Launch::Mpi { size: Some(n) } if n > 1 => Err(format!(
            "started as one of {n} MPI processes, but this benchfs-server was built without MPI \
             support; rebuild with `cargo build --features mpi`"
        )),
        _ => Ok(()),
    }
}

/// benchfs-server's `main`: parses the command line, joins an MPI job's cluster if launched
/// by one, serves until SIGTERM/SIGINT, and returns the exit status.
pub fn main() -> i32 {
    let mut args = Args::parse();
    if let Err(e) = join_mpi_job(&mut args) {
        eprintln!("benchfs-server: {e}");
        return 1;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("benchfs-server: cannot start the runtime: {e}");
            return 1;
        }
    };
    if let Err(e) = rt.block_on(run(args)) {
        eprintln!("benchfs-server: {e}");
        return 1;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_and_are_checked() {
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("4M"), Ok(4 << 20));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert!(parse_size("1000").is_err());
        assert!(parse_size("128m").is_err());
        assert!(parse_size("1g").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("99999999999999999999k").is_err());
    }
}
