//! Runs two benchfs-server processes through one registry, connects a client, and checks
//! that SIGTERM shuts them down gracefully (exit 0, entries removed).

use benchfs::fs::{Client, ClientOptions, OpenFlags, Registry};
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

fn spawn_server(reg: &std::path::Path, data: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_benchfs-server"))
        .arg("--registry")
        .arg(reg)
        .arg("--data-dir")
        .arg(data)
        .args(["--servers", "2", "--chunk-size", "64k"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.filter_map(Result::ok).all(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            .ok()
            .and_then(|st| {
                st.rsplit(')')
                    .next()
                    .and_then(|r| r.trim_start().chars().next())
            })
            .is_some_and(|c| c == 'T' || c == 't')
    })
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
        kids.0
            .push(spawn_server(&reg, &d.path().join(format!("data{i}"))));
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
    // Each server keeps spare chunk files of the cluster's chunk size ready (made in the
    // background while idle: settle waits for them).
    let spares = |i: usize| {
        std::fs::read_dir(d.path().join(format!("data{i}/spare")))
            .map(|r| r.count())
            .unwrap_or(0)
    };
    fs.settle(Duration::from_secs(20)).await.unwrap();
    let full = benchfs::fs::server::spare::DEFAULT_SPARE_CHUNKS;
    assert_eq!((spares(0), spares(1)), (full, full));
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
    // Signals are delivered asynchronously: wait until every thread is really stopped.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !all_threads_stopped(kids.0[0].id()) {
        assert!(Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
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

    // Restart server 0 on its data directory: it gets another port, re-registers, and the
    // existing client follows it through the registry; the closed file is served again.
    // SAFETY: sending a signal to a child process we spawned.
    assert_eq!(
        unsafe { libc::kill(kids.0[0].id() as i32, libc::SIGTERM) },
        0
    );
    assert!(wait_exit(&mut kids.0[0], Duration::from_secs(30)).success());
    let registry = Registry::new(&reg);
    let epoch = registry.cluster().unwrap().epoch;
    assert_eq!(registry.servers(epoch).unwrap().len(), 1, "deregistered");
    kids.0[0] = spawn_server(&reg, &d.path().join("data0"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while registry.servers(epoch).unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "server did not re-register");
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = fs.open("/x", OpenFlags::read_only()).await.unwrap();
    assert_eq!(r.read_vec(0, 2_000_000).await.unwrap(), data);

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
    assert_eq!(
        spares(0) + spares(1),
        0,
        "spare chunk files removed at shutdown"
    );
    // The client now gets errors, not hangs.
    assert!(fs.stat("/x").await.is_err());
}
