//! `mpirun` confined to this machine: loopback and shared memory only, as root, oversubscribed.
#![allow(dead_code)]

use std::process::Command;

/// `mpirun -np <np> <program>` with the environment every test run needs.
pub fn mpirun_command(np: usize, program: &str) -> Command {
    let mut cmd = Command::new("mpirun");
    cmd.args([
        "--allow-run-as-root",
        "--oversubscribe",
        "-np",
        &np.to_string(),
    ])
    .arg(program)
    .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
    .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
    .env("OMPI_MCA_hwloc_base_binding_policy", "none")
    .env("OMPI_MCA_pml", "ob1")
    .env("OMPI_MCA_btl", "self,vader,tcp")
    .env("OMPI_MCA_btl_tcp_if_include", "lo")
    .env("OMPI_MCA_oob_tcp_if_include", "lo")
    .env("UCX_NET_DEVICES", "lo")
    .env_remove("IOR_FAKE_TASK_PER_NODES")
    .env_remove("BENCHFS_MPI");
    cmd
}

/// Runs `cmd` in its own process group, capturing stdout and stderr; kills the group and
/// fails the test if it outlives `timeout` (a hang).
pub fn run_bounded(mut cmd: Command, what: &str, timeout: std::time::Duration) -> super::run::Run {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => {
            let out = out.expect("wait");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            super::run::Run {
                merged: format!("{stdout}{stderr}"),
                stdout,
                stderr,
                code: out.status.code().unwrap_or(-1),
            }
        }
        Err(_) => {
            // SAFETY: signalling the process group this test created.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            panic!("{what} did not finish within {timeout:?} (hang)");
        }
    }
}
