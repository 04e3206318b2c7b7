//! Import of real IOR and mdtest output into the benchfs result document (`benchfs-bench
//! import`).
//!
//! Reads IOR 4.x's three result formats — the text output (header, `Options:`, the `Results:`
//! table and the `Summary of all tests:` table), the JSON of `summaryFormat=JSON` (including
//! IOR's irregular whitespace, bare `inf`/`nan` tokens and log lines around the document) and
//! the CSV of `summaryFormat=CSV` — and rebuilds a [`ResultDocument`] whose `source` says where
//! it came from and which figures were derived rather than read.
//!
//! Owns parsing of IOR's output only; it must not run anything nor change the document schema
//! (that is [`crate::results::document`]). Summary statistics printed by IOR are kept as IOR
//! printed them; when the input has none (CSV, truncated text) they are recomputed with
//! [`crate::ior::stats::summarize`].

mod csv;
mod json;
mod mdtest;
mod parsed;
mod text;

use crate::results::document::{ResultDocument, SCHEMA};
use serde_json::Value;
use std::path::Path;

/// Errors importing an IOR output.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The content is not an IOR or mdtest output in a format we know.
    #[error("{path}: not an IOR text, JSON or CSV output, nor an mdtest text output")]
    UnknownFormat {
        /// The file.
        path: String,
    },
    /// The content looked like the given format but could not be parsed.
    #[error("{path}: invalid IOR {format} output: {message}")]
    Parse {
        /// The file.
        path: String,
        /// `text`, `JSON` or `CSV`.
        format: &'static str,
        /// What went wrong (with a line number where known).
        message: String,
    },
}

/// The IOR output formats the importer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// IOR's default text output.
    Text,
    /// `-O summaryFormat=JSON`.
    Json,
    /// `-O summaryFormat=CSV`.
    Csv,
    /// mdtest's text output.
    MdtestText,
}

impl ImportFormat {
    /// The value of [`ImportSource::format`] for this format.
    pub fn source_name(self) -> &'static str {
        match self {
            ImportFormat::Text => "ior-text",
            ImportFormat::Json => "ior-json",
            ImportFormat::Csv => "ior-csv",
            ImportFormat::MdtestText => "mdtest-text",
        }
    }
}

/// Options of an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Backend name recorded for CSV input (IOR's CSV has no API column). Default `POSIX`.
    pub csv_api: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            csv_api: "POSIX".to_string(),
        }
    }
}

const CSV_HEADER: &str = "access,bw(MiB/s),IOPS,Latency";

/// Guesses the format of `text`: mdtest text if it has mdtest's version line or summary
/// table, JSON if a line starts with `{`, CSV if a line starts with
/// IOR's CSV header, text if it has a `Results:` table; `None` otherwise.
pub fn detect(text: &str) -> Option<ImportFormat> {
    let lines = || text.lines().map(str::trim_start);
    if mdtest::is_mdtest(text) {
        Some(ImportFormat::MdtestText)
    } else if lines().any(|l| l.starts_with(CSV_HEADER)) {
        Some(ImportFormat::Csv)
    } else if lines().any(|l| l.starts_with('{')) && text.contains("\"tests\"") {
        Some(ImportFormat::Json)
    } else if lines().any(|l| l.starts_with("Results:") || l.starts_with("Summary of all tests:")) {
        Some(ImportFormat::Text)
    } else {
        None
    }
}

/// Reads `path` and imports it (format detected from the content).
pub fn import_file(
    path: impl AsRef<Path>,
    opts: &ImportOptions,
) -> Result<ResultDocument, ImportError> {
    let (name, text) = read_input(path.as_ref())?;
    import_str(&text, &name, None, opts)
}

/// The display name and the text of an input file.
fn read_input(path: &Path) -> Result<(String, String), ImportError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Io {
        path: name.clone(),
        source,
    })?;
    Ok((name, text))
}

/// Loads a benchfs result document, or — when the file is not one — imports it as IOR output.
/// This is how `compare`, `report` and `export` accept either kind of input.
pub fn load_document(
    path: impl AsRef<Path>,
    opts: &ImportOptions,
) -> Result<ResultDocument, ImportError> {
    let (name, text) = read_input(path.as_ref())?;
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        if v.get("schema").and_then(Value::as_str) == Some(SCHEMA) {
            return ResultDocument::from_json(&text, &name).map_err(|e| ImportError::Parse {
                path: name,
                format: "benchfs",
                message: e.to_string(),
            });
        }
    }
    import_str(&text, &name, None, opts)
}

/// Imports IOR output `text` (named `file` in errors and in `source.file`); `format` `None`
/// detects it.
pub fn import_str(
    text: &str,
    file: &str,
    format: Option<ImportFormat>,
    opts: &ImportOptions,
) -> Result<ResultDocument, ImportError> {
    let format = match format.or_else(|| detect(text)) {
        Some(f) => f,
        None => {
            return Err(ImportError::UnknownFormat {
                path: file.to_string(),
            })
        }
    };
    let fail = |format, message| ImportError::Parse {
        path: file.to_string(),
        format,
        message,
    };
    let parsed = match format {
        ImportFormat::MdtestText => {
            return mdtest::parse(text, file).map_err(|m| fail("mdtest text", m));
        }
        ImportFormat::Text => text::parse_text(text),
        ImportFormat::Json => json::parse_json(text),
        ImportFormat::Csv => csv::parse_csv(text, opts),
    }
    .map_err(|message| {
        fail(
            match format {
                ImportFormat::Json => "JSON",
                ImportFormat::Csv => "CSV",
                _ => "text",
            },
            message,
        )
    })?;
    Ok(parsed.into_document(format, file))
}

#[cfg(test)]
mod tests {
    use super::json::sanitize_json;
    use super::parsed::{derive_agg, parse_size};
    use super::*;
    use crate::ior::params::IorParams;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1 MiB"), Some(1 << 20));
        assert_eq!(parse_size("262144 bytes"), Some(262_144));
        assert_eq!(parse_size("4 GiB"), Some(4 << 30));
        assert_eq!(parse_size("1 parsec"), None);
    }

    #[test]
    fn sanitizes_bare_words() {
        let s = sanitize_json(r#"{"a": inf, "b": -nan, "c": "inf x", "d": true, "e": 1e5}"#);
        let v: Value = serde_json::from_str(&s).unwrap();
        assert!(v["a"].is_null());
        assert!(v["b"].is_null());
        assert_eq!(v["c"], "inf x");
        assert_eq!(v["d"], true);
        assert_eq!(v["e"], 1e5);
    }

    #[test]
    fn detects_formats() {
        assert_eq!(
            detect("access,bw(MiB/s),IOPS,Latency,x\n"),
            Some(ImportFormat::Csv)
        );
        assert_eq!(
            detect("Writing output to x\n{\n \"tests\": []}"),
            Some(ImportFormat::Json)
        );
        assert_eq!(detect("IOR-4\nResults: \n"), Some(ImportFormat::Text));
        assert_eq!(detect("hello"), None);
    }

    #[test]
    fn derive_agg_snaps_to_workload() {
        let params = IorParams {
            block_size: 1 << 20,
            transfer_size: 1 << 20,
            segment_count: 4,
            num_tasks: 2,
            ..IorParams::default()
        };
        let mut notes = Vec::new();
        // 8 MiB in 0.5 s = 16 MiB/s, printed rounded.
        assert_eq!(derive_agg(16.01, 0.5, &params, &mut notes), 8 << 20);
        // Far off (stonewalled): rounded to whole transfers.
        assert_eq!(derive_agg(2.0, 1.0, &params, &mut notes), 2 << 20);
    }
}
