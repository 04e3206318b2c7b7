//! The dashboard end to end: real runs of benchfs-bench (a run with 2 ranks and a transfer-size
//! sweep), imported IOR outputs, `report --png`, CI exports; then the page is opened in headless
//! Chromium (Debian package `chromium`, scripts/packages/report.test.txt), which must load it
//! without console errors, with every plot present and drawn, no two labels of a plot
//! overlapping (their boxes in the page's DOM) and the bundled font loaded; a screenshot of
//! the page must show drawn data inside every plot's box.

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
    panic!("chromium is not installed: run scripts/install-packages.sh as root (scripts/packages/report.test.txt)");
}

/// Runs headless Chromium on `page` with `extra` arguments (fresh profile in `scratch`),
/// stdout and stderr into files; returns (stdout, stderr). Killed after 90 s.
fn run_chromium(page: &Path, scratch: &Path, extra: &[String]) -> (String, String) {
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
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        // Files, not pipes: the DOM (with the embedded font) is larger than a pipe buffer.
        .stdout(std::fs::File::create(profile.path().join("out.txt")).unwrap())
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
    (
        std::fs::read_to_string(profile.path().join("out.txt")).unwrap(),
        std::fs::read_to_string(profile.path().join("stderr.txt")).unwrap(),
    )
}

fn open_in_chromium(page: &Path, scratch: &Path) -> BrowserView {
    // The same width as the screenshots: the boxes the page records are where they show.
    let (dom, stderr) = run_chromium(
        page,
        scratch,
        &[
            "--dump-dom".to_string(),
            format!("--window-size={SHOT_WIDTH},1000"),
        ],
    );
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

/// Page width for the screenshots: two plots side by side.
const SHOT_WIDTH: u32 = 1720;

/// A screenshot of the whole page (`height` px tall) as RGB rows.
struct Shot {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

fn screenshot(page: &Path, scratch: &Path, height: u32, keep_as: &Path) -> Shot {
    let shot = scratch.join("shot.png");
    run_chromium(
        page,
        scratch,
        &[
            format!("--screenshot={}", shot.display()),
            format!("--window-size={SHOT_WIDTH},{height}"),
        ],
    );
    std::fs::copy(&shot, keep_as).unwrap();
    let decoder = png::Decoder::new(std::fs::File::open(&shot).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let rgb = buf[..info.buffer_size()]
        .chunks(channels)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    Shot {
        width: info.width as usize,
        height: info.height as usize,
        rgb,
    }
}

impl Shot {
    /// Whether a pixel within `r` of (x, y) shows one of `colours` over the white page: the
    /// colour itself or its blend with white at 30 % coverage or more (the antialiased
    /// pixels of a 1-pixel line).
    fn has_colour_near(&self, x: usize, y: usize, r: usize, colours: &[[u8; 3]]) -> bool {
        let rows = y.saturating_sub(r)..(y + r + 1).min(self.height);
        rows.flat_map(|row| {
            (x.saturating_sub(r)..(x + r + 1).min(self.width)).map(move |col| (row, col))
        })
        .any(|(row, col)| {
            let i = (row * self.width + col) * 3;
            let px = [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]];
            colours.iter().any(|c| covers(px, *c) >= 0.3)
        })
    }
}

/// How much of colour `c` over white pixel `px` shows: the coverage a in 0..=1 with
/// px = (1 - a) white + a c on every channel (within 0.15), or 0 when px is no such blend.
fn covers(px: [u8; 3], c: [u8; 3]) -> f64 {
    let shares: Vec<f64> = (0..3)
        .filter(|&k| 255 - i32::from(c[k]) > 40)
        .map(|k| (255.0 - f64::from(px[k])) / (255.0 - f64::from(c[k])))
        .collect();
    let (lo, hi) = shares
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    // Channels the colour leaves near white must stay near white in proportion too.
    let flat_ok = (0..3)
        .filter(|&k| 255 - i32::from(c[k]) <= 40)
        .all(|k| px[k] >= c[k].saturating_sub(30));
    if shares.is_empty() || !flat_ok || hi - lo > 0.15 || hi > 1.15 {
        0.0
    } else {
        lo.min(1.0)
    }
}

#[test]
fn coverage_of_a_data_colour_over_white() {
    let blue = [31, 119, 180];
    assert!((covers(blue, blue) - 1.0).abs() < 1e-9);
    assert_eq!(covers([255, 255, 255], blue), 0.0);
    // Half coverage: an antialiased 1-pixel line.
    assert!((covers([143, 187, 217], blue) - 0.5).abs() < 0.02);
    // Grey text or axes are no blend of blue.
    assert_eq!(covers([120, 120, 120], blue), 0.0);
    assert!(covers([120, 120, 120], [175, 175, 175]) == 0.0);
}

#[test]
fn data_elements_lists_what_a_plot_draws_in_data_colours() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("p.svg");
    std::fs::write(
        &svg,
        r##"<svg><polyline stroke="#000000" points="1,2 3,4"/><circle cx="5" cy="6" fill="#1f77b4"/></svg>"##,
    )
    .unwrap();
    let listed = data_elements(&svg, &[rgb("#1F77B4")]);
    assert_eq!(listed, r##"  <circle cx="5" cy="6" fill="#1f77b4"/>"##);
}

/// `#1F77B4` as RGB.
fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// The data vertices the page's self-check sampled: (plot id, x, y) in page pixels.
fn samples(body: &str) -> Vec<(String, usize, usize)> {
    attr(body, "data-samples")
        .unwrap_or_default()
        .split_whitespace()
        .map(|s| {
            let f: Vec<&str> = s.split(',').collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

/// The plot boxes the page's self-check recorded: (id, left, top, width, height).
fn boxes(body: &str) -> Vec<(String, usize, usize, usize, usize)> {
    attr(body, "data-boxes")
        .unwrap_or_default()
        .split_whitespace()
        .map(|b| {
            let f: Vec<&str> = b.split(',').collect();
            let n = |i: usize| f[i].parse::<usize>().unwrap();
            (f[0].to_string(), n(1), n(2), n(3), n(4))
        })
        .collect()
}

/// Loads the dashboard in `dir` in Chromium and checks what a reader sees: no console
/// message, no script error, the font loaded, every plot of `ids` drawn, no overlapping
/// labels, and a screenshot (kept as `dir/screenshot.png`) with data inside every plot.
fn check_in_browser(dir: &Path, ids: &[String], scratch: &Path) -> BrowserView {
    let page = dir.join("index.html");
    let view = open_in_chromium(&page, scratch);
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
    assert_eq!(
        drawn,
        ids,
        "plots not drawn (data vertices/points): {:?}",
        attr(&view.body, "data-marks")
    );
    assert_eq!(attr(&view.body, "data-errors").as_deref(), Some(""));
    assert_eq!(attr(&view.body, "data-font").as_deref(), Some("loaded"));
    assert_eq!(
        attr(&view.body, "data-overlaps").as_deref(),
        Some(""),
        "overlapping labels"
    );
    let height: u32 = attr(&view.body, "data-height").unwrap().parse().unwrap();
    assert!(
        height < 16_000,
        "page too tall for one screenshot: {height}"
    );
    let shot = screenshot(&page, scratch, height, &dir.join("screenshot.png"));
    // BENCHFS_SHOTS_DIR=DIR keeps the screenshot for a person to look at.
    if let Ok(keep) = std::env::var("BENCHFS_SHOTS_DIR") {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(
            dir.join("screenshot.png"),
            Path::new(&keep).join(format!("{name}.png")),
        )
        .unwrap();
    }
    let boxes = boxes(&view.body);
    assert_eq!(boxes.len(), ids.len());
    for (id, _, _, w, h) in &boxes {
        assert!(*w >= 700 && *h >= 400, "{id}: {w}x{h}");
    }
    // Where the DOM has data vertices, the screenshot shows data colours: at least one
    // sampled vertex per plot, and most of them found (whatever the data's spread).
    let colours: Vec<[u8; 3]> = attr(&view.body, "data-colours")
        .unwrap()
        .split_whitespace()
        .map(rgb)
        .collect();
    // The criterion can fail: the page's white margin shows no data colour.
    assert!(!shot.has_colour_near(3, 3, 2, &colours));
    let samples = samples(&view.body);
    for id in ids {
        let mine: Vec<_> = samples.iter().filter(|(i, _, _)| i == id).collect();
        assert!(!mine.is_empty(), "{id}: no data vertex sampled");
        let seen = mine
            .iter()
            .filter(|(_, x, y)| shot.has_colour_near(*x, *y, 4, &colours))
            .count();
        assert!(
            seen * 4 >= mine.len() * 3,
            "{id}: {seen} of {} sampled data vertices visible in the screenshot: {:?}\n\
             its data elements (SVG pixels; plot box {:?}):\n{}",
            mine.len(),
            mine.iter()
                .map(|(_, x, y)| (*x, *y, shot.has_colour_near(*x, *y, 4, &colours)))
                .collect::<Vec<_>>(),
            boxes.iter().find(|b| &b.0 == id),
            data_elements(&dir.join(format!("{id}.svg")), &colours)
        );
    }
    view
}

/// The elements of the SVG file `svg` drawn in one of `colours`, one a line: what a failed
/// screenshot check needs to tell a plot drawn on its axis from a screenshot taken too early.
fn data_elements(svg: &Path, colours: &[[u8; 3]]) -> String {
    let text = std::fs::read_to_string(svg).unwrap_or_default();
    let hex: Vec<String> = colours
        .iter()
        .map(|c| format!("#{:02X}{:02X}{:02X}", c[0], c[1], c[2]))
        .collect();
    text.split('<')
        .filter(|e| {
            let upper = e.to_uppercase();
            hex.iter().any(|h| upper.contains(h.as_str()))
        })
        .map(|e| format!("  <{}", e.trim_end()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Plot ids of a dashboard page, in page order.
fn plot_ids(html: &str) -> Vec<String> {
    html.match_indices("<figure class=\"plot\" id=\"")
        .map(|(i, m)| html[i + m.len()..].split('"').next().unwrap().to_string())
        .collect()
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

    // The same run with a time series per phase (the result document's `time_series`, as
    // the engine writes it): rank 1 a straggler that ends 5 intervals after rank 0.
    let timed = d.join("timed.json");
    std::fs::write(
        &timed,
        with_time_series(&std::fs::read_to_string(&run).unwrap()),
    )
    .unwrap();

    // History: two imported IOR runs of one workload (text and JSON) plus the native ones.
    let out = d.join("dash");
    let stdout = ok(bin()
        .arg("report")
        .arg(example("shm_fpp_text.txt"))
        .arg(example("tmp_fpp_summaryFile.json"))
        .arg(&run)
        .arg(&timed)
        .arg(&sweep)
        .arg("--out")
        .arg(&out)
        .arg("--png"));
    assert!(stdout.contains("index.html"), "{stdout}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();

    // Plot ids from the page; every one has a non-trivial SVG and PNG file.
    let ids = plot_ids(&html);
    for prefix in ["history-", "latency-", "ranks-", "sweep-", "timeseries-"] {
        assert!(
            ids.iter().any(|i| i.starts_with(prefix)),
            "no {prefix} plot in {ids:?}"
        );
    }
    assert!(ids.iter().any(|i| i.ends_with("-cdf")));
    // Aggregate and per-task time series of write and read; the straggler in the legend.
    let series: Vec<&String> = ids
        .iter()
        .filter(|i| i.starts_with("timeseries-"))
        .collect();
    // Every workload with a series (every run now records one) has all four plots.
    let workloads: std::collections::BTreeSet<&str> = series
        .iter()
        .filter_map(|i| i.trim_start_matches("timeseries-").split('-').next())
        .collect();
    assert!(!workloads.is_empty(), "{ids:?}");
    for w in &workloads {
        for kind in ["write", "write-tasks", "read", "read-tasks"] {
            let id = format!("timeseries-{w}-{kind}");
            assert!(series.iter().any(|i| **i == id), "no {id} in {ids:?}");
        }
    }
    assert_eq!(series.len(), 4 * workloads.len(), "{ids:?}");
    // The stonewalled run with a slow task: its straggler named in the legend, the wall
    // drawn on the aggregate. (A real run's task 1 may finish last by chance too, so the
    // check is that one straggler plot has the wall on its aggregate, not the first one.)
    let stragglers: Vec<&String> = ids
        .iter()
        .filter(|i| i.starts_with("timeseries-") && i.ends_with("-write-tasks"))
        .filter(|i| {
            std::fs::read_to_string(out.join(format!("{i}.svg")))
                .unwrap()
                .contains("task 1, finished last")
        })
        .collect();
    assert!(
        !stragglers.is_empty(),
        "no per-task series names its straggler: {ids:?}"
    );
    let walled = stragglers.iter().any(|tasks| {
        let agg = tasks.trim_end_matches("-tasks");
        std::fs::read_to_string(out.join(format!("{agg}.svg")))
            .unwrap()
            .contains("stonewall 0.8 s")
    });
    assert!(
        walled,
        "no straggler's aggregate shows the wall: {stragglers:?}"
    );
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

    // The browser: no console message, every plot drawn, no overlapping label, the bundled
    // font loaded, data visible in every plot of the screenshot.
    check_in_browser(&out, &ids, d);
    // Latency and per-task plots for the latest run of each workload (the three sizes of the
    // sweep; the 2-rank run is the sweep's 64k workload), not only for the latest document.
    let latency_workloads = ids.iter().filter(|i| i.ends_with("-cdf")).count();
    let task_workloads = ids
        .iter()
        .filter(|i| i.starts_with("ranks-") && i.ends_with("-write"))
        .count();
    assert_eq!(latency_workloads, 3, "{ids:?}");
    assert_eq!(task_workloads, 3, "{ids:?}");

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

/// `doc` (a result document) with a `time_series` in every phase entry: 0.1 s intervals,
/// two ranks, rank 0 done after 10 intervals and rank 1 after 15; the write phase with a
/// stonewall at 0.8 s.
fn with_time_series(doc: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(doc).unwrap();
    // Begun after every run the test made (the sweep's 64 KiB run is of the same workload
    // and may begin more than a second after the run this copies): the latest run of its
    // workload, whose series the report draws (the copied run has a real series of its own).
    let began = chrono::Local::now().fixed_offset() + chrono::Duration::seconds(1);
    v["run"]["began"] = began.to_rfc3339().into();
    for t in v["tests"].as_array_mut().unwrap() {
        for r in t["results"].as_array_mut().unwrap() {
            if r["kind"] != "phase" {
                continue;
            }
            let rank0: Vec<u64> = (0..15).map(|i| if i < 10 { 1 << 20 } else { 0 }).collect();
            let rank1: Vec<u64> = (0..15)
                .map(|i| if i < 15 { 700 << 10 } else { 0 })
                .collect();
            let bytes: Vec<u64> = rank0.iter().zip(&rank1).map(|(a, b)| a + b).collect();
            let ops: Vec<u64> = bytes.iter().map(|b| b / 65536).collect();
            // The phase lasts as long as its series (the last interval ends with it).
            r["total_time"] = serde_json::json!(1.5);
            r["time_series"] = serde_json::json!({
                "interval_s": 0.1,
                "origin": "phase_start",
                "bytes": bytes,
                "ops": ops,
                "per_rank": [rank0, rank1],
            });
            if r["access"] == "write" {
                r["stonewall"] = serde_json::json!({
                    "pairs_min": 100, "pairs_max": 120, "data_min": 6.5e6,
                    "data_mean": 7.0e6, "time": 0.8
                });
            }
        }
    }
    serde_json::to_string(&v).unwrap()
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
fn browser_checks_catch_overlapping_labels_and_empty_plots() {
    // The checks of check_in_browser can fail: a real page with one label drawn twice over
    // itself and a plot with nothing but axes.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dash");
    ok(bin()
        .arg("report")
        .arg(example("shm_fpp_text.txt"))
        .arg("--out")
        .arg(&out));
    let page = out.join("index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let first = plot_ids(&html)[0].clone();
    let fig = html.find(&format!("id=\"{first}\"")).unwrap();
    let t0 = fig + html[fig..].find("<text").unwrap();
    let t1 = t0 + html[t0..].find("</text>").unwrap() + "</text>".len();
    let twice = format!("{}{}{}", &html[..t1], &html[t0..t1], &html[t1..]);
    let empty = "<figure class=\"plot\" id=\"empty\"><svg width=\"800\" height=\"460\">\
                 <line x1=\"0\" y1=\"0\" x2=\"800\" y2=\"0\" stroke=\"#000000\"/></svg></figure>";
    let broken = twice.replacen("<h2>Notes</h2>", &format!("{empty}<h2>Notes</h2>"), 1);
    std::fs::write(&page, broken).unwrap();
    let view = open_in_chromium(&page, dir.path());
    let overlaps = attr(&view.body, "data-overlaps").unwrap();
    assert!(overlaps.starts_with(&format!("{first}: ")), "{}", view.body);
    let drawn = attr(&view.body, "data-plots-ok").unwrap();
    assert!(drawn.split(' ').any(|i| i == first), "{drawn}");
    assert!(!drawn.split(' ').any(|i| i == "empty"), "{drawn}");
}

/// A DUMMY run whose transfers each take `delay_us` (so its bandwidth is known), as a document.
fn dummy_run(path: &Path, delay_us: u32) {
    ok(bin()
        .args([
            "-a", "DUMMY", "-b", "1m", "-t", "16k", "-w", "-r", "-i", "8", "-N", "2",
        ])
        .arg(format!("--dummy.delay-xfer={delay_us}"))
        .arg("--json")
        .arg(path));
}

#[test]
fn a_long_history_keeps_its_labels_apart_and_judges_the_latest_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = d.join("base.json");
    dummy_run(&base, 0);
    // 59 runs of the history, one a day with its own commit, then a run far slower (2 ms per
    // transfer instead of none: no iteration of one side comes near the other's).
    let mut files = Vec::new();
    let template: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    for day in 0..59 {
        let mut v = template.clone();
        v["build"]["git_commit"] = format!("{:07x}aaaa", 0x1000000 + day * 7919).into();
        v["run"]["began"] = format!("2026-09-{:02}T10:00:00+00:00", 1 + day % 30).into();
        if day >= 30 {
            v["run"]["began"] = format!("2026-10-{:02}T10:00:00+00:00", day - 29).into();
        }
        let p = d.join(format!("h{day:02}.json"));
        std::fs::write(&p, v.to_string()).unwrap();
        files.push(p);
    }
    let slow = d.join("slow.json");
    dummy_run(&slow, 2000);
    files.push(slow);
    let out = d.join("dash");
    ok(bin()
        .arg("report")
        .args(&files)
        .arg("--baseline")
        .arg(&base)
        .args(["--order", "input", "--out"])
        .arg(&out));
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let ids = plot_ids(&html);
    check_in_browser(&out, &ids, d);
    let svg = std::fs::read_to_string(out.join("history-1-bandwidth.svg")).unwrap();
    // The verdict of compare on the history plot, and the baseline band in its legend.
    assert!(svg.contains("vs baseline: write"), "{svg}");
    assert!(svg.contains("% regression"), "verdict missing");
    assert!(svg.contains("baseline write"), "band missing");
    assert!(html.contains("class=\"regression\""), "verdict table");
    // 60 runs: labels thinned (every 2nd run at most 40 across), never all 60.
    let labels = svg.matches("rotate(270").count();
    assert!((20..=40).contains(&labels), "{labels} run labels");
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
