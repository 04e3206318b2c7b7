//! The benchmarks' UCX peer: `ucx_perftest -t ucp_am_bw` (Debian ucx-utils) between two
//! processes on loopback, the transport's own active-message limit on this machine.

use std::process::{Command, Stdio};
use std::time::Duration;

/// MiB/s of `n` active messages of `size` bytes over UCX transports `tls` (UCX_TLS syntax),
/// the server side listening on `port`; None if ucx_perftest is missing or fails.
pub fn am_bw_mib_s(tls: &str, size: usize, n: usize, port: u16) -> Option<f64> {
    let run = |args: &[String]| {
        Command::new("ucx_perftest")
            .args(args)
            .env("UCX_NET_DEVICES", "lo")
            .env("UCX_TLS", tls)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
    };
    let mut server = run(&["-p".into(), port.to_string()]).ok()?;
    std::thread::sleep(Duration::from_millis(300));
    let client = run(&[
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
        "-t".into(),
        "ucp_am_bw".into(),
        "-s".into(),
        size.to_string(),
        "-n".into(),
        n.to_string(),
    ]);
    let Ok(client) = client else {
        let _ = server.kill();
        let _ = server.wait();
        return None;
    };
    let out = client.wait_with_output().ok()?;
    let _ = server.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    let fin = text
        .lines()
        .find(|l| l.trim_start().starts_with("Final:"))?;
    // Final: iterations, p50, average and overall overhead, average and overall MB/s, ...
    let cols: Vec<f64> = fin
        .split_whitespace()
        .skip(1)
        .filter_map(|c| c.parse().ok())
        .collect();
    cols.get(5).copied()
}
