//! Helpers of the fault suite: benchfs-server processes (signals, restarts, descriptor
//! limits, memory and CPU read from /proc), a TCP proxy that stalls a connection after a
//! number of bytes, small tmpfs mounts, and waiting for a condition with a deadline.
#![allow(dead_code)]

use benchfs::fs::registry::Registry;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Waits until `cond` holds, checking every 10 ms, for at most `within`; panics naming
/// `what` if it never does.
pub fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The async form of [`wait_until`].
pub async fn wait_until_async<F, Fut>(what: &str, within: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !cond().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends `sig` to process `pid`.
pub fn signal(pid: u32, sig: i32) {
    // SAFETY: sending a signal to a process this test started.
    let rc = unsafe { libc::kill(pid as i32, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

/// True once every thread of `pid` is stopped (SIGSTOP is delivered asynchronously).
pub fn stopped(pid: u32) -> bool {
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

/// Resident memory of `pid`, bytes.
pub fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// CPU time `pid` has used (user + system), in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the command name.
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

/// Clock ticks per second.
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as u64
}

/// Descriptors `pid` has open.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// One benchfs-server process (killed when dropped). Its stderr goes to a file.
pub struct Server {
    pub child: Child,
    pub registry: PathBuf,
    pub data: PathBuf,
    pub args: Vec<String>,
    pub servers: usize,
    pub stderr: PathBuf,
    pub nofile: Option<(u64, u64)>,
}

impl Server {
    /// Starts a server of a cluster of `servers` on `data` with extra `args`.
    pub fn start(registry: &Path, data: &Path, servers: usize, args: &[&str]) -> Server {
        Self::start_limited(registry, data, servers, args, None)
    }

    /// [`Server::start`] with its descriptor limit set to (soft, hard).
    pub fn start_limited(
        registry: &Path,
        data: &Path,
        servers: usize,
        args: &[&str],
        nofile: Option<(u64, u64)>,
    ) -> Server {
        let stderr = data.with_extension("stderr");
        let mut s = Server {
            child: spawn(registry, data, servers, args, nofile, &stderr),
            registry: registry.to_path_buf(),
            data: data.to_path_buf(),
            args: args.iter().map(|a| a.to_string()).collect(),
            servers,
            stderr,
            nofile,
        };
        s.wait_registered();
        s
    }

    /// The pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its store id (hex), from its data directory.
    pub fn store_id(&self) -> String {
        std::fs::read_to_string(self.data.join("store_id"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// Its address, from its registry entry.
    pub fn addr(&self) -> String {
        let reg = Registry::new(&self.registry);
        let epoch = reg.cluster().unwrap().epoch;
        let id = self.store_id();
        reg.servers(epoch)
            .unwrap()
            .into_iter()
            .find(|e| e.store_id == id)
            .map(|e| e.addr)
            .unwrap_or_default()
    }

    /// Waits until this process has registered (its entry names its pid).
    pub fn wait_registered(&mut self) {
        let pid = self.pid();
        let reg = Registry::new(&self.registry);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(info) = reg.cluster() {
                if reg
                    .servers(info.epoch)
                    .unwrap_or_default()
                    .iter()
                    .any(|e| e.pid == pid)
                {
                    return;
                }
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("server exited with {st}: {}", self.stderr_text());
            }
            assert!(Instant::now() < deadline, "server {pid} did not register");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Its stderr so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Kills it (SIGKILL) and waits for it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGSTOP and waits until it is stopped.
    pub fn stop(&self) {
        signal(self.pid(), libc::SIGSTOP);
        let pid = self.pid();
        wait_until("server stopped", Duration::from_secs(30), || stopped(pid));
    }

    /// Sends SIGCONT.
    pub fn resume(&self) {
        signal(self.pid(), libc::SIGCONT);
    }

    /// Restarts it on its data directory (after it died or was killed).
    pub fn restart(&mut self) {
        self.kill9();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.child = spawn(
            &self.registry,
            &self.data,
            self.servers,
            &args,
            self.nofile,
            &self.stderr,
        );
        self.wait_registered();
    }

    /// Sends SIGTERM and waits (at most `within`) for it to exit; its status.
    pub fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        signal(self.pid(), libc::SIGTERM);
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(
    registry: &Path,
    data: &Path,
    servers: usize,
    args: &[&str],
    nofile: Option<(u64, u64)>,
    stderr: &Path,
) -> Child {
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(stderr)
        .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_benchfs-server"));
    cmd.arg("--registry")
        .arg(registry)
        .arg("--data-dir")
        .arg(data)
        .args(["--servers", &servers.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err);
    if let Some((soft, hard)) = nofile {
        // SAFETY: setrlimit is async-signal-safe; the closure touches nothing else.
        unsafe {
            cmd.pre_exec(move || {
                let l = libc::rlimit {
                    rlim_cur: soft,
                    rlim_max: hard,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &l) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    cmd.spawn().expect("spawn benchfs-server")
}

/// A cluster of `n` benchfs-server processes in `dir` (registry `dir/registry`, data
/// `dir/data<i>`).
pub fn cluster(dir: &Path, n: usize, args: &[&str]) -> Vec<Server> {
    let reg = dir.join("registry");
    (0..n)
        .map(|i| Server::start(&reg, &dir.join(format!("data{i}")), n, args))
        .collect()
}

/// A small tmpfs mounted on a new directory under `base`, unmounted when dropped. `None`
/// (with a note) where mounting is not allowed, except under CI, where it must work.
pub struct Tmpfs {
    pub path: PathBuf,
}

impl Tmpfs {
    pub fn mount(base: &Path, size: &str) -> Option<Tmpfs> {
        let path = base.join(format!("tmpfs-{size}"));
        std::fs::create_dir_all(&path).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(Tmpfs { path });
        }
        assert!(
            std::env::var("CI").is_err(),
            "CI runs as root and must be able to mount a tmpfs"
        );
        eprintln!("note: cannot mount a tmpfs here (not root?): test skipped");
        None
    }

    /// Bytes available on it.
    pub fn avail(&self) -> u64 {
        capacity(&self.path).2
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// (total, free, available) bytes of the file system holding `p`.
pub fn capacity(p: &Path) -> (u64, u64, u64) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: statvfs is plain data, zeroed is valid; both pointers valid for the call.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0);
    let f = s.f_frsize as u64;
    (
        s.f_blocks as u64 * f,
        s.f_bfree as u64 * f,
        s.f_bavail as u64 * f,
    )
}

/// Bytes allocated to the files under `dir` (recursively).
pub fn allocated(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut sum = 0;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    for e in rd.flatten() {
        let Ok(m) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        if m.is_dir() {
            sum += allocated(&e.path());
        } else {
            sum += m.blocks() * 512;
        }
    }
    sum
}

/// Files under `dir` (recursively), directories not counted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A deterministic byte pattern.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed * 97) >> 7) as u8)
        .collect()
}

/// A TCP proxy to `target` on 127.0.0.1 for one connection: forwards the first `up` bytes
/// from the client and the first `down` bytes from the server, then stops reading that side
/// (the connection stalls in that direction: the sender's buffers fill). `stalled` counts
/// the directions that have stalled. Returns the address clients connect to.
pub fn stalling_proxy(
    target: &str,
    up: usize,
    down: usize,
    stalled: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let target = target.to_string();
    std::thread::spawn(move || {
        let Ok((client, _)) = l.accept() else { return };
        let Ok(server) = std::net::TcpStream::connect(&target) else {
            return;
        };
        let pump =
            move |mut from: std::net::TcpStream,
                  mut to: std::net::TcpStream,
                  budget: usize,
                  stalled: std::sync::Arc<std::sync::atomic::AtomicUsize>| {
                std::thread::spawn(move || {
                    let mut left = budget;
                    let mut buf = [0u8; 8192];
                    while left > 0 {
                        let want = left.min(buf.len());
                        let n = match from.read(&mut buf[..want]) {
                            Ok(0) | Err(_) => {
                                let _ = to.shutdown(std::net::Shutdown::Write);
                                return;
                            }
                            Ok(n) => n,
                        };
                        if to.write_all(&buf[..n]).is_err() {
                            return;
                        }
                        left -= n;
                    }
                    stalled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    // Stalled: both sockets stay open, nothing more is read or written.
                    let _keep = (from, to);
                    loop {
                        std::thread::park();
                    }
                });
            };
        pump(
            client.try_clone().unwrap(),
            server.try_clone().unwrap(),
            up,
            stalled.clone(),
        );
        pump(server, client, down, stalled);
    });
    addr
}

/// Runs `cmd` in its own process group with stdout and stderr to files in `dir`; returns the
/// child (its pid is the group's).
pub fn spawn_group(mut cmd: Command, dir: &Path, name: &str) -> Child {
    let out = std::fs::File::create(dir.join(format!("{name}.out"))).unwrap();
    let err = std::fs::File::create(dir.join(format!("{name}.err"))).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .expect("spawn")
}

/// Waits (at most `within`) for `child` to exit; its status. The whole group is killed and
/// the test fails if it does not.
pub fn wait_child(child: &mut Child, within: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            // SAFETY: signalling the process group this test created.
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
            }
            let _ = child.wait();
            panic!("{what} did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
