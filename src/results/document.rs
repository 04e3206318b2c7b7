//! TEMPORARY stand-in (replaced by the result document module at merge).
use crate::ior::results::{RunInfo, TestResults};
/// doc
#[derive(serde::Serialize)]
pub struct ResultDocument {
    run: RunInfo,
    tests: Vec<TestResults>,
    finished: String,
    errors: Vec<String>,
}
impl ResultDocument {
    /// from
    pub fn from_run(
        run: &RunInfo,
        tests: &[TestResults],
        finished: &str,
        errors: &[String],
    ) -> Self {
        ResultDocument {
            run: run.clone(),
            tests: tests.to_vec(),
            finished: finished.into(),
            errors: errors.to_vec(),
        }
    }
    /// write
    pub fn write_to(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(
            path,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )
    }
}
