//! The io500 ini parser against the shapes of the io500 repository's config files (written
//! here from the app's documented keys), the app's own `--list` output and configuration
//! hash, and its errors: unknown section, unknown key, bad values, stray content.

use benchfs::io500::Config;

const APP_LIST: &str = include_str!("data/io500/app-list.txt");
const TINY: &str = include_str!("data/io500/config-shm-tiny.ini");

fn err(text: &str) -> String {
    Config::parse(text).expect_err(text).to_string()
}

#[test]
fn the_apps_list_is_our_table() {
    // `io500 --list` of the real app lists every section, key, help and default: the same
    // text as ours, so the table has the app's sections, keys and defaults.
    let ours = format!(
        "# Supported and current values of the ini file:\n{}",
        Config::default().listing(true)
    );
    assert_eq!(ours, APP_LIST);
    // The listing parses back to the defaults (the app's config-sample-all.ini shape).
    let back = Config::parse(APP_LIST).unwrap();
    assert_eq!(back.hash(), Config::default().hash());
}

#[test]
fn the_apps_config_hash() {
    // The real app printed config-hash 1F43F1F4 for this file.
    let cfg = Config::parse(TINY).unwrap();
    assert_eq!(format!("{:X}", cfg.hash()), "1F43F1F4");
    assert_eq!(cfg.get("ior-easy", "blockSize"), Some("64m"));
    assert_eq!(cfg.int("debug", "stonewall-time"), Some(1));
    assert_eq!(cfg.flag("global", "timestamp-datadir"), Some(false));
    // Defaults where the file says nothing.
    assert_eq!(cfg.get("ior-easy", "transferSize"), Some("1m"));
    assert_eq!(cfg.get("ior-hard", "collective"), None);
    assert_eq!(cfg.int("mdtest-easy", "n"), Some(2000));
    assert_eq!(cfg.int("mdtest-hard", "n"), Some(2000));
    assert_eq!(
        cfg.get("global", "drop-caches-cmd"),
        Some("sudo -n bash -c \"echo 3 > /proc/sys/vm/drop_caches\"")
    );
}

#[test]
fn minimal_and_debug_shapes() {
    // config-minimal.ini: only the data directory.
    let cfg = Config::parse("[global]\ndatadir = ./datafiles\n").unwrap();
    assert_eq!(cfg.hash(), Config::default().hash());
    // config-debug-run.ini: short stonewall and a pause directory, comments, blank lines.
    let cfg = Config::parse(
        "# debug run\n[global]\ndatadir = ./datafiles\ntimestamp-datadir = FALSE\n\
         timestamp-resultdir = FALSE\n\n[debug]\nstonewall-time = 1\npause-dir = ./pause/\n",
    )
    .unwrap();
    assert_eq!(cfg.get("debug", "pause-dir"), Some("./pause/"));
    assert_ne!(cfg.hash(), Config::default().hash());
}

#[test]
fn the_apps_lexical_rules() {
    let cfg = Config::parse(
        "  [ IOR-Easy ]   ; a comment after whitespace\n\
         TRANSFERSIZE = 4m   # trailing comment\n\
         blocksize=8m\n\
         filePerProc = 0\n\
         uniqueDir = true\n\
         API =\n\
         [mdworkbench]\nwaitingTime = 1e-3\n\
         \t; an indented comment\n\
         [global]\nverbosity = 3\r\n",
    )
    .unwrap();
    assert_eq!(cfg.get("ior-easy", "transferSize"), Some("4m"));
    assert_eq!(cfg.get("ior-easy", "blockSize"), Some("8m"));
    assert_eq!(cfg.get("ior-easy", "filePerProc"), Some("FALSE"));
    assert_eq!(cfg.get("ior-easy", "uniqueDir"), Some("TRUE"));
    // An empty value leaves the key unset.
    assert_eq!(cfg.get("ior-easy", "API"), None);
    assert_eq!(cfg.get("mdworkbench", "waitingTime"), Some("1e-3"));
    assert_eq!(cfg.int("global", "verbosity"), Some(3));
    // The API with backend options (spaces are part of the value).
    let cfg = Config::parse("[global]\napi = BENCHFS --benchfs.registry=/tmp/r\n").unwrap();
    assert_eq!(
        cfg.get("global", "api"),
        Some("BENCHFS --benchfs.registry=/tmp/r")
    );
}

#[test]
fn errors_in_the_apps_wording() {
    assert_eq!(
        err("[global]\ndatadir = /x\n[ior-medium]\n"),
        "Parsing error in line 3, unknown section ior-medium"
    );
    assert_eq!(
        err("[ior-easy]\ntransferSize = 1m\nstripeCount = 4\n"),
        "Parsing error in section ior-easy line 3, unknown option \"stripeCount\" with value \"4\""
    );
    assert_eq!(
        err("[ior-hard]\nsegmentCount = many\n"),
        "Parsing error in section ior-hard line 2, option segmentCount expects integer, received \"many\""
    );
    assert_eq!(
        err("[mdtest-easy]\nn = -5\n"),
        "Parsing error in section mdtest-easy line 2, option n expects integer >= 0, received \"-5\""
    );
    assert_eq!(
        err("[ior-easy]\nfilePerProc = yes\n"),
        "Parsing error in section ior-easy line 2, option filePerProc expects bool (true|false), received \"yes\""
    );
    assert_eq!(
        err("[mdworkbench]\nwaitingTime = fast\n"),
        "Parsing error in section mdworkbench line 2, option waitingTime expects float, received \"fast\""
    );
    assert_eq!(
        err("datadir = /x\n"),
        "Parsing error in line 1, variable assigned outside section"
    );
    assert_eq!(
        err("[global]\n\n\ndatadir /x\n"),
        "Parsing error in section global line 4, unexpected content: \"datadir /x\""
    );
    // A comment must follow whitespace: `#` inside a value is stray content.
    assert_eq!(
        err("[global]\ndatadir = /x#y\n"),
        "Parsing error in section global line 2, unexpected content: \"datadir = /x#y\""
    );
}
