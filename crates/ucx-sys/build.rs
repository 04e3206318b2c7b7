//! Finds the system UCX with pkg-config (`ucx`, at least 1.13, whose `*_nbx` calls and
//! active-message receive API the bindings need) and generates bindings for exactly the UCP and
//! UCS items the BenchFS UCX transport uses.

use std::path::PathBuf;

/// UCP functions used by the wrapper (`src/fs/transport/ucx/` of benchfs).
const FUNCTIONS: &[&str] = &[
    "ucp_config_read",
    "ucp_config_release",
    "ucp_config_modify",
    "ucp_init_version",
    "ucp_cleanup",
    "ucp_get_version_string",
    "ucp_context_query",
    "ucp_worker_create",
    "ucp_worker_destroy",
    "ucp_worker_query",
    "ucp_worker_release_address",
    "ucp_worker_address_query",
    "ucp_worker_progress",
    "ucp_worker_get_efd",
    "ucp_worker_arm",
    "ucp_worker_signal",
    "ucp_worker_set_am_recv_handler",
    "ucp_ep_create",
    "ucp_ep_close_nbx",
    "ucp_ep_flush_nbx",
    "ucp_ep_print_info",
    "ucp_ep_query",
    "ucp_am_send_nbx",
    "ucp_am_recv_data_nbx",
    "ucp_am_data_release",
    "ucp_request_free",
    "ucp_request_check_status",
    "ucp_listener_create",
    "ucp_listener_destroy",
    "ucp_listener_query",
    "ucp_listener_reject",
    "ucp_conn_request_query",
    "ucp_mem_map",
    "ucp_mem_unmap",
    "ucp_mem_query",
    "ucs_status_string",
];

/// Constants and flag enums used with them.
const ITEMS: &[&str] = &[
    "UCP_API_MAJOR",
    "UCP_API_MINOR",
    "ucs_status_t",
    "ucs_thread_mode_t",
    "ucs_memory_type_t",
    "ucp_params_field",
    "ucp_feature",
    "ucp_worker_params_field",
    "ucp_worker_attr_field",
    "ucp_worker_address_attr_field",
    "ucp_wakeup_event_types",
    "ucp_ep_params_field",
    "ucp_ep_params_flags_field",
    "ucp_ep_close_flags_t",
    "ucp_ep_attr_field",
    "ucp_err_handling_mode_t",
    "ucp_am_handler_param_field",
    "ucp_am_cb_flags",
    "ucp_send_am_flags",
    "ucp_am_recv_attr_t",
    "ucp_op_attr_t",
    "ucp_listener_params_field",
    "ucp_listener_attr_field",
    "ucp_conn_request_attr_field",
    "ucp_mem_map_params_field",
    "ucp_mem_attr_field",
    "ucp_context_attr_field",
    "UCP_MEM_MAP_.*",
];

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=build.rs");
    let lib = match pkg_config::Config::new()
        .atleast_version("1.13")
        .probe("ucx")
    {
        Ok(lib) => lib,
        Err(e) => {
            // No panic message wall: say what is missing and how to get it.
            eprintln!(
                "ucx-sys: UCX not found with pkg-config `ucx` ({e}); install libucx-dev \
                 (scripts/packages/ucx.txt) or set PKG_CONFIG_PATH"
            );
            std::process::exit(1);
        }
    };
    let mut builder = bindgen::Builder::default()
        .header("wrapper.h")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .layout_tests(true)
        .generate_comments(false)
        // Socket addresses are libc's, so that callers build them with libc.
        .blocklist_type("sockaddr")
        .blocklist_type("sockaddr_storage")
        .blocklist_type("socklen_t")
        .blocklist_type("sa_family_t")
        .raw_line("pub use libc::{sockaddr, sockaddr_storage, socklen_t, FILE};")
        .blocklist_type("FILE")
        .blocklist_type("_IO_FILE")
        .allowlist_recursively(true);
    for path in &lib.include_paths {
        builder = builder.clang_arg(format!("-I{}", path.display()));
    }
    for f in FUNCTIONS {
        builder = builder.allowlist_function(f);
    }
    for item in ITEMS {
        builder = builder.allowlist_type(item).allowlist_var(item);
    }
    let bindings = match builder.generate() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("ucx-sys: bindgen failed on the UCX headers: {e}");
            std::process::exit(1);
        }
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    if let Err(e) = bindings.write_to_file(out.join("bindings.rs")) {
        eprintln!("ucx-sys: cannot write the bindings: {e}");
        std::process::exit(1);
    }
}
