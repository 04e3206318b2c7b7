//! Runs two benchfs-server processes through one registry, connects a client, and checks
//! that SIGTERM shuts them down gracefully (exit 0, entries removed).

use benchfs::fs::{Client, ClientOptions, OpenFlags};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killer(Vec<Child>);
impl Drop for Killer {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_exit(c: &mut Child, within: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s;
        }
        assert!(
            start.elapsed() < within,
            "server did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_through_a_registry() {
    let d = tempfile::tempdir().unwrap();
    let reg = d.path().join("registry");
    let mut kids = Killer(Vec::new());
    for i in 0..2 {
        let c = Command::new(env!("CARGO_BIN_EXE_benchfs-server"))
            .arg("--registry")
            .arg(&reg)
            .arg("--data-dir")
            .arg(d.path().join(format!("data{i}")))
            .args(["--servers", "2", "--chunk-size", "64k"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        kids.0.push(c);
    }
    let fs = Client::connect(&reg).await.unwrap();
    assert_eq!(fs.server_count(), 2);
    assert_eq!(fs.chunk_size(), 64 << 10);
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
    let f = fs.create("/x").await.unwrap();
    f.write_at(0, &data).await.unwrap();
    f.close().await.unwrap();
    let r = fs.open("/x", OpenFlags::read_only()).await.unwrap();
    assert_eq!(r.read_vec(0, 2_000_000).await.unwrap(), data);
    assert_eq!(fs.statfs().await.unwrap().chunks, 16);
    // A wrong chunk size on the command line is refused.
    let bad = Command::new(env!("CARGO_BIN_EXE_benchfs-server"))
        .arg("--registry")
        .arg(&reg)
        .arg("--data-dir")
        .arg(d.path().join("bad"))
        .args(["--servers", "2", "--chunk-size", "1000"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!bad.success());

    // A server that hangs (stopped, its socket still open) gives ETIMEDOUT, never a hang.
    let short = Client::connect_with(
        &reg,
        ClientOptions {
            timeout: Duration::from_millis(500),
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap();
    // SAFETY: sending a signal to a child process we spawned.
    assert_eq!(
        unsafe { libc::kill(kids.0[0].id() as i32, libc::SIGSTOP) },
        0
    );
    let start = Instant::now();
    let e = short.statfs().await.unwrap_err();
    assert_eq!(e.errno(), libc::ETIMEDOUT, "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
    // SAFETY: as above.
    assert_eq!(
        unsafe { libc::kill(kids.0[0].id() as i32, libc::SIGCONT) },
        0
    );
    assert_eq!(short.statfs().await.unwrap().chunks, 16);

    for c in &kids.0 {
        // SAFETY: sending a signal to a child process we spawned.
        assert_eq!(unsafe { libc::kill(c.id() as i32, libc::SIGTERM) }, 0);
    }
    for c in &mut kids.0 {
        let s = wait_exit(c, Duration::from_secs(30));
        assert!(s.success(), "exit status {s:?}");
    }
    let left = std::fs::read_dir(reg.join("servers")).unwrap().count();
    assert_eq!(left, 0, "servers deregistered");
    // The client now gets errors, not hangs.
    assert!(fs.stat("/x").await.is_err());
}
