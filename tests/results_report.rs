//! The dashboard end to end: real runs of benchfs-bench (a run with 2 ranks and a transfer-size
//! sweep), imported IOR outputs, `report --png`, CI exports; then the page is opened in headless
//! Chromium (Debian package `chromium`, scripts/packages/report.txt), which must load it
//! without console errors, with every plot present and drawn and the bundled font loaded.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_benchfs-bench"))
}

fn example(name: &str) -> String {
    format!(
        "{}/tests/data/ior-examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What headless Chromium saw: the `<body>` tag of the DOM after scripts ran, and every
/// console message it logged.
struct BrowserView {
    body: String,
    console: Vec<String>,
}

fn chromium() -> PathBuf {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(c).exists() {
            return PathBuf::from(c);
        }
    }
    panic!("chromium is not installed: run scripts/install-packages.sh as root (scripts/packages/report.txt)");
}

fn open_in_chromium(page: &Path, scratch: &Path) -> BrowserView {
    let profile = tempfile::tempdir_in(scratch).unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        // Files, not pipes: the DOM (with the embedded font) is larger than a pipe buffer.
        .stdout(std::fs::File::create(profile.path().join("dom.html")).unwrap())
        .stderr(std::fs::File::create(profile.path().join("stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    // Bounded: a hung browser is killed after 90 s and the test fails.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let dom = std::fs::read_to_string(profile.path().join("dom.html")).unwrap();
    let stderr = std::fs::read_to_string(profile.path().join("stderr.txt")).unwrap();
    let body = dom
        .find("<body")
        .and_then(|i| dom[i..].find('>').map(|j| dom[i..i + j + 1].to_string()))
        .unwrap_or_default();
    BrowserView {
        body,
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_string)
            .collect(),
    }
}

fn attr(body: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let i = body.find(&key)? + key.len();
    Some(body[i..].split('"').next()?.to_string())
}

#[test]
fn dashboard_builds_and_loads_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let target = data.display().to_string();

    // A native run: 2 ranks, 3 iterations, latency histograms and per-rank figures.
    let run = d.join("run.json");
    ok(bin()
        .args([
            "-a", "POSIX", "-b", "1m", "-t", "64k", "-w", "-r", "-i", "3", "-N", "2", "-F",
        ])
        .args(["-o", &format!("{target}/f"), "--json"])
        .arg(&run));
    // A sweep over three transfer sizes, one combined document and one per size.
    let sweep = d.join("sweep.json");
    let per_size = d.join("sweep");
    ok(bin()
        .args(["sweep", "--sizes", "16k,64k,256k", "--json"])
        .arg(&sweep)
        .arg("--out-dir")
        .arg(&per_size)
        .args([
            "--", "-a", "POSIX", "-b", "1m", "-w", "-r", "-i", "2", "-N", "2", "-F",
        ])
        .args(["-o", &format!("{target}/g")]));
    let combined = benchfs::results::document::ResultDocument::read_from(&sweep).unwrap();
    let xfers: Vec<i64> = combined
        .tests
        .iter()
        .map(|t| t.params.transfer_size)
        .collect();
    assert_eq!(xfers, vec![16384, 65536, 262144]);
    assert!(per_size.join("sweep-64KiB.json").exists());

    // History: two imported IOR runs of one workload (text and JSON) plus the native ones.
    let out = d.join("dash");
    let stdout = ok(bin()
        .arg("report")
        .arg(example("shm_fpp_text.txt"))
        .arg(example("tmp_fpp_summaryFile.json"))
        .arg(&run)
        .arg(&sweep)
        .arg("--out")
        .arg(&out)
        .arg("--png"));
    assert!(stdout.contains("index.html"), "{stdout}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();

    // Plot ids from the page; every one has a non-trivial SVG and PNG file.
    let ids: Vec<String> = html
        .match_indices("<figure class=\"plot\" id=\"")
        .map(|(i, m)| html[i + m.len()..].split('"').next().unwrap().to_string())
        .collect();
    for prefix in ["history-", "latency-", "ranks-", "sweep-"] {
        assert!(
            ids.iter().any(|i| i.starts_with(prefix)),
            "no {prefix} plot in {ids:?}"
        );
    }
    assert!(ids.iter().any(|i| i.ends_with("-cdf")));
    assert!(ids.iter().any(|i| i.ends_with("-percentiles")));
    for id in &ids {
        let svg = std::fs::read_to_string(out.join(format!("{id}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("<text"), "{id}");
        assert!(
            svg.contains("fonts/DejaVuSans.ttf"),
            "{id}: font not referenced"
        );
        let png = std::fs::read(out.join(format!("{id}.png"))).unwrap();
        assert_eq!(&png[1..4], b"PNG", "{id}");
        assert!(png.len() > 5000, "{id}: PNG suspiciously small");
    }
    assert_eq!(
        std::fs::read(out.join("fonts/DejaVuSans.ttf")).unwrap(),
        benchfs::results::report::FONT_TTF
    );

    // The browser: no console message, every plot drawn, the bundled font loaded.
    let view = open_in_chromium(&out.join("index.html"), d);
    assert!(view.console.is_empty(), "console: {:?}", view.console);
    assert_eq!(
        attr(&view.body, "data-plots").as_deref(),
        Some(ids.len().to_string().as_str()),
        "{}",
        view.body
    );
    let drawn: Vec<String> = attr(&view.body, "data-plots-ok")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(drawn, ids, "plots not drawn: {}", view.body);
    assert_eq!(attr(&view.body, "data-errors").as_deref(), Some(""));
    assert_eq!(attr(&view.body, "data-font").as_deref(), Some("loaded"));

    // CI exports of the same documents.
    let gab = ok(bin().args(["export", "--format", "gab-bigger"]).arg(&run));
    let v: serde_json::Value = serde_json::from_str(&gab).unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 4); // bandwidth and IOPS of write and read
    assert!(items[0]["name"]
        .as_str()
        .unwrap()
        .contains("write bandwidth"));
    assert_eq!(items[0]["unit"], "MiB/s");
    assert!(items[0]["value"].as_f64().unwrap() > 0.0);
    let small = ok(bin().args(["export", "--format", "gab-smaller"]).arg(&run));
    let v: serde_json::Value = serde_json::from_str(&small).unwrap();
    assert!(v.as_array().unwrap().iter().all(|i| i["unit"] == "s"));
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["name"].as_str().unwrap().ends_with("latency-p99")));
    let bmf = ok(bin()
        .args(["export", "--format", "bmf"])
        .arg(example("shm_fpp_text.txt")));
    let v: serde_json::Value = serde_json::from_str(&bmf).unwrap();
    let w = &v["POSIX fpp N=2 b=64MiB t=1MiB s=4 C write"];
    assert_eq!(w["bandwidth"]["value"], 2244.92);
    assert_eq!(w["bandwidth"]["lower_value"], 552.78);
    assert_eq!(w["bandwidth"]["upper_value"], 4016.0);
    // IOR's latency column, in nanoseconds under Bencher's `latency` measure.
    assert!((w["latency"]["value"].as_f64().unwrap() - 749_000.0).abs() < 1e-6);
}

#[test]
fn browser_check_catches_a_broken_page() {
    // The check above can fail: a page with a script error and no drawn plot.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<html><body><figure class=\"plot\" id=\"p\"><svg></svg></figure><script>undefinedFn();</script></body></html>",
    )
    .unwrap();
    let view = open_in_chromium(&page, dir.path());
    assert!(
        view.console.iter().any(|l| l.contains("undefinedFn")),
        "{:?}",
        view.console
    );
}

#[test]
fn history_order_by_date_or_as_given() {
    let dir = tempfile::tempdir().unwrap();
    // shm_fpp_text began 23:33:48, tmp_fpp_summaryFile 23:34:13: given newest first.
    let newest_first = [
        example("tmp_fpp_summaryFile.json"),
        example("shm_fpp_text.txt"),
    ];
    let first_row = |out: &Path| {
        let html = std::fs::read_to_string(out.join("index.html")).unwrap();
        let i = html.find("<tr><td>1</td>").unwrap();
        html[i..].split("</tr>").next().unwrap().to_string()
    };
    let by_date = dir.path().join("date");
    ok(bin()
        .arg("report")
        .args(&newest_first)
        .arg("--out")
        .arg(&by_date));
    assert!(first_row(&by_date).contains("shm_fpp_text.txt"));
    let as_given = dir.path().join("input");
    ok(bin()
        .arg("report")
        .args(&newest_first)
        .args(["--order", "input", "--out"])
        .arg(&as_given));
    assert!(first_row(&as_given).contains("tmp_fpp_summaryFile.json"));
    // Imported runs have no histograms or per-rank figures: the page says so.
    let html = std::fs::read_to_string(as_given.join("index.html")).unwrap();
    assert!(html.contains("imported IOR runs have none"));
}
