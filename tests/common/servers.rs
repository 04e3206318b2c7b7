//! Separate `benchfs-server` processes of one cluster on 127.0.0.1, joined through a registry
//! directory; killed when dropped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// benchfs-server processes of one cluster; killed on drop.
pub struct Servers {
    /// The server processes.
    pub children: Vec<Child>,
    /// Their listen addresses.
    pub addrs: Vec<String>,
    /// The registry directory clients join through.
    pub registry: PathBuf,
}

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A TCP port of 127.0.0.1 nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts `n` servers with their data and registry under `dir`.
pub fn start_servers(dir: &Path, n: usize) -> Servers {
    start_servers_on(dir, n, "tcp")
}

/// [`start_servers`] offering `transport` (`tcp`, `ucx`, `both`; UCX on loopback only).
pub fn start_servers_on(dir: &Path, n: usize, transport: &str) -> Servers {
    let registry = dir.join("registry");
    // Made before the servers start: benchfs-bench names a missing registry at once.
    std::fs::create_dir_all(&registry).expect("registry directory");
    let mut s = Servers {
        children: Vec::new(),
        addrs: Vec::new(),
        registry: registry.clone(),
    };
    for i in 0..n {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_benchfs-server"))
            .args(["--registry", registry.to_str().expect("utf-8 path")])
            .args([
                "--data-dir",
                dir.join(format!("server{i}")).to_str().expect("utf-8 path"),
            ])
            .args(["--listen", &addr, "--servers", &n.to_string()])
            .args(["--transport", transport])
            .env("UCX_NET_DEVICES", "lo")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start benchfs-server");
        s.children.push(child);
        s.addrs.push(addr);
    }
    s
}
