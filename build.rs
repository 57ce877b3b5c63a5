//! Build-time configuration: tells the crate when it is built for
//! ThreadSanitizer (`-Zsanitizer=thread`), which `cfg(sanitize)` cannot say on
//! stable Rust. Under TSan the partition tail's inline 128-bit instructions are
//! off (src/log/tail_cell.rs says why).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-check-cfg=cfg(idemlog_sanitize_thread)");
    // Cargo sets CARGO_CFG_SANITIZE from the target's `sanitize` cfg values.
    let sanitizers = std::env::var("CARGO_CFG_SANITIZE").unwrap_or_default();
    if sanitizers.split(',').any(|sanitizer| sanitizer == "thread") {
        println!("cargo:rustc-cfg=idemlog_sanitize_thread");
    }
}
