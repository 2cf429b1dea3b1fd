//! Decides at build time whether the tests that need the real event logs run.
//!
//! The logs live outside the repository (`../shared/data/eventlogs`, or `SWITCHBOARD_EVENTLOGS`).
//! When they are absent the build sets `cfg(no_eventlogs)`, which marks those tests
//! `#[ignore = "needs ../shared/data/eventlogs"]`, so `cargo test`'s summary counts them as
//! ignored instead of passing them silently. Under `CI=true` the cfg is never set: the tests
//! run and fail on the missing folder.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(no_eventlogs)");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=SWITCHBOARD_EVENTLOGS");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dir = std::env::var_os("SWITCHBOARD_EVENTLOGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../shared/data/eventlogs"));
    println!(
        "cargo::rustc-env=SWITCHBOARD_EVENTLOGS_DIR={}",
        dir.display()
    );
    // Only an existing folder is watched: cargo reruns a script whose watched path is missing
    // on every build (recompiling the crate), and watching an ancestor would scan all of it.
    // After adding the logs, `touch build.rs`.
    if dir.is_dir() {
        println!("cargo::rerun-if-changed={}", dir.display());
    }
    println!("cargo::rerun-if-changed=build.rs");
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if !dir.is_dir() && !in_ci {
        println!("cargo::rustc-cfg=no_eventlogs");
    }
}
