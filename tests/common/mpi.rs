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
