//! IOR's node emulation from the environment: `IOR_FAKE_NODES=N` (the number of nodes) and
//! `IOR_FAKE_TASK_PER_NODES=K` (the tasks on rank 0's node), as IOR reads them.
//!
//! Owns reading them, IOR's two announcement lines (`Fake number of node: using N`, `Fake
//! tasks per node: using K`, printed by rank 0 before the run) and applying them to the tests
//! as IOR does: they stand in for the job's measured values, each on its own, wherever a test
//! does not set `numNodes` / `numTasksOnNode0` itself. (Only benchfs-bench's own
//! `--tasks-per-node` moves tasks onto emulated nodes; IOR's variables change the figures.) It
//! must not lay out communicators.

use crate::ior::params::IorParams;
use crate::measure::log;

/// The variables that were set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeFakes {
    /// `IOR_FAKE_NODES`.
    pub nodes: Option<i32>,
    /// `IOR_FAKE_TASK_PER_NODES`.
    pub tasks_per_node: Option<i32>,
}

fn read(name: &str, value: Option<String>) -> Result<Option<i32>, String> {
    let Some(v) = value else { return Ok(None) };
    match v.trim().parse::<i32>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(format!(
            "{name}={v}: not a positive number (IOR's node emulation needs a count of at least 1)"
        )),
    }
}

impl NodeFakes {
    /// From this process's environment; a value that is not a positive number is an error.
    pub fn from_env() -> Result<Self, String> {
        Self::from_values(
            std::env::var("IOR_FAKE_NODES").ok(),
            std::env::var("IOR_FAKE_TASK_PER_NODES").ok(),
        )
    }

    /// From the two values (`None`: unset).
    pub fn from_values(nodes: Option<String>, tasks: Option<String>) -> Result<Self, String> {
        Ok(NodeFakes {
            nodes: read("IOR_FAKE_NODES", nodes)?,
            tasks_per_node: read("IOR_FAKE_TASK_PER_NODES", tasks)?,
        })
    }

    /// IOR's lines, in IOR's order (rank 0 prints them, before the header).
    pub fn announce(&self) {
        if let Some(n) = self.nodes {
            log::line(&format!("Fake number of node: using {n}"));
        }
        if let Some(k) = self.tasks_per_node {
            log::line(&format!("Fake tasks per node: using {k}"));
        }
    }

    /// Uses the fakes as the job's node count and tasks per node of every test that does not
    /// set its own (`-O numNodes=`, `-O numTasksOnNode0=` win, as in IOR).
    pub fn apply(&self, tests: &mut [IorParams]) {
        for t in tests {
            if let (Some(n), true) = (self.nodes, t.num_nodes <= 0) {
                t.num_nodes = n;
            }
            if let (Some(k), true) = (self.tasks_per_node, t.num_tasks_on_node0 <= 0) {
                t.num_tasks_on_node0 = k;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_announce_and_apply() {
        let f = NodeFakes::from_values(Some("2".into()), None).unwrap();
        assert_eq!(
            f,
            NodeFakes {
                nodes: Some(2),
                tasks_per_node: None
            }
        );
        let mut tests = vec![
            IorParams::default(),
            IorParams {
                num_nodes: 5,
                ..IorParams::default()
            },
        ];
        let both = NodeFakes::from_values(Some("2".into()), Some(" 1 ".into())).unwrap();
        both.apply(&mut tests);
        assert_eq!((tests[0].num_nodes, tests[0].num_tasks_on_node0), (2, 1));
        assert_eq!((tests[1].num_nodes, tests[1].num_tasks_on_node0), (5, 1));
        for bad in ["0", "-3", "two", ""] {
            let e = NodeFakes::from_values(None, Some(bad.into())).unwrap_err();
            assert!(
                e.contains("IOR_FAKE_TASK_PER_NODES") && e.contains(bad),
                "{e}"
            );
        }
        assert_eq!(
            NodeFakes::from_values(None, None).unwrap(),
            NodeFakes::default()
        );
    }
}
