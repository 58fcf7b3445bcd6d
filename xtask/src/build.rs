//! `cargo xtask build`: the npm package in `pkg/`.
//!
//! 1. `cargo build --target wasm32-unknown-unknown --profile wasm -p import-uploader`
//! 2. `wasm-bindgen --target web` (name and producers sections removed)
//! 3. `wasm-opt -Oz` from npm's binaryen, when installed
//! 4. `package.json`, per-runtime entry files, `index.d.ts`, README
//! 5. a smoke test: the package loads in Node and reports its version
//! 6. a table of raw and gzip sizes of the .wasm and the JS glue

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::package::{self, OUT_NAME};
use crate::process;
use crate::setup::{fingerprint, Workspace, WASM_TARGET};

/// wasm features rustc's `wasm32-unknown-unknown` output uses, which
/// wasm-opt must accept (and may keep using).
const WASM_OPT_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-bulk-memory-opt",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// Rust flags of the package build: panic locations in the shipped `.wasm`
/// name `/cargo/…` and `/import-uploader/…`, never the building machine's
/// directories.
fn remap_rustflags(ws: &Workspace) -> String {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo")));
    let mut flags = Vec::new();
    if let Some(home) = cargo_home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags.push(format!(
        "--remap-path-prefix={}=/import-uploader",
        ws.root.display()
    ));
    flags.join("\x1f")
}

/// Builds `pkg/`.
pub fn run(ws: &Workspace) -> Result<()> {
    process::run(
        ws.cargo()
            .args([
                "build",
                "--target",
                WASM_TARGET,
                "--profile",
                "wasm",
                "-p",
                "import-uploader",
            ])
            .env("CARGO_ENCODED_RUSTFLAGS", remap_rustflags(ws)),
    )?;
    let input = ws
        .target_dir
        .join(WASM_TARGET)
        .join("wasm")
        .join(format!("{OUT_NAME}.wasm"));
    let pkg = ws.pkg_dir();
    let wasm = pkg.join(format!("{OUT_NAME}_bg.wasm"));
    let glue = pkg.join(format!("{OUT_NAME}.js"));
    let manifest = ws.root_manifest()?;
    let meta = package::read_meta(&manifest)?;

    // Skip wasm-bindgen and wasm-opt when nothing changed since the last build.
    let stamp = ws.scratch_dir().join("pkg-stamp");
    let inputs = inputs_fingerprint(&input, &manifest)?;
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(inputs.as_str())
        && pkg.join("package.json").exists()
        && wasm.exists()
    {
        println!("build: pkg/ is up to date");
        print_sizes(&[&wasm, &glue])?;
        return Ok(());
    }
    let _ = std::fs::remove_file(&stamp);
    if pkg.exists() {
        std::fs::remove_dir_all(&pkg).with_context(|| format!("clearing {}", pkg.display()))?;
    }
    std::fs::create_dir_all(&pkg)?;
    process::run(
        ws.cmd("wasm-bindgen")
            .args([
                "--target",
                "web",
                "--out-dir",
                "pkg",
                "--out-name",
                OUT_NAME,
                "--remove-name-section",
                "--remove-producers-section",
            ])
            .arg(&input),
    )?;

    let wasm_opt = ws.root.join("node_modules").join(".bin").join("wasm-opt");
    if wasm_opt.exists() {
        process::run(
            ws.cmd(&wasm_opt)
                .arg("-Oz")
                .args(WASM_OPT_FEATURES)
                .arg(&wasm)
                .arg("-o")
                .arg(&wasm),
        )?;
    } else {
        println!(
            "build: {} not found (npm install); the .wasm is not optimised",
            wasm_opt.display()
        );
    }

    package::write(&pkg, &meta)?;
    smoke_test(ws, &pkg, &meta.version)?;
    std::fs::create_dir_all(ws.scratch_dir())?;
    std::fs::write(&stamp, &inputs)?;
    print_sizes(&[&wasm, &glue])?;
    println!("build: npm package {} {} in pkg/", meta.name, meta.version);
    Ok(())
}

/// What the package is made from: the compiled module, the manifest, and
/// this xtask itself (its code writes the package files).
fn inputs_fingerprint(module: &Path, manifest: &str) -> Result<String> {
    let module = std::fs::read(module).with_context(|| format!("reading {}", module.display()))?;
    let xtask_built = std::env::current_exe()
        .and_then(|p| p.metadata())
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    Ok(format!(
        "{} {} {xtask_built}",
        fingerprint(&module),
        fingerprint(manifest.as_bytes())
    ))
}

/// Loads the package in Node through its `node` entry and checks `version()`.
fn smoke_test(ws: &Workspace, pkg: &Path, version: &str) -> Result<()> {
    let entry = pkg.join("entry-node.js");
    let script = format!(
        "const m = await import({});\n\
         const v = m.version();\n\
         if (v !== {}) {{ console.error(`version() is ${{v}}`); process.exit(1); }}\n\
         if (typeof m.ImportClient !== 'function') {{ console.error('no ImportClient'); process.exit(1); }}",
        serde_json::to_string(&file_url(&entry)?)?,
        serde_json::to_string(version)?,
    );
    let out = ws
        .cmd("node")
        .args(["--input-type=module", "-e", &script])
        .output()
        .context("running node (Node.js 20 or later is needed)")?;
    if !out.status.success() {
        bail!(
            "the built package does not load in Node: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    println!("build: pkg/ loads in Node, version() = {version}");
    Ok(())
}

fn file_url(path: &Path) -> Result<String> {
    let abs = std::fs::canonicalize(path)?;
    Ok(format!("file://{}", abs.display()))
}

fn gzip_len(bytes: &[u8]) -> Result<usize> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?.len())
}

/// Raw and gzip (level 9) sizes, as a table.
pub fn print_sizes(files: &[&PathBuf]) -> Result<()> {
    let kib = |n: usize| format!("{:.1} KiB", n as f64 / 1024.0);
    println!();
    println!("{:<28} {:>12} {:>12}", "file", "raw", "gzip -9");
    let (mut raw_total, mut gz_total) = (0, 0);
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let gz = gzip_len(&bytes)?;
        raw_total += bytes.len();
        gz_total += gz;
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        println!("{:<28} {:>12} {:>12}", name, kib(bytes.len()), kib(gz));
    }
    println!(
        "{:<28} {:>12} {:>12}",
        "total (.wasm + glue)",
        kib(raw_total),
        kib(gz_total)
    );
    println!();
    Ok(())
}
