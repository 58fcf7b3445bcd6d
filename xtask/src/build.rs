//! `cargo xtask build`: the npm package in `pkg/`.
//!
//! 1. `cargo build --target wasm32-unknown-unknown --profile wasm -p import-uploader`,
//!    twice: with `--no-default-features` for browsers (no edge broker) and
//!    with the default features for servers (Node, Deno, workerd)
//! 2. `wasm-bindgen --target web` of each (name and producers sections
//!    removed): `import_uploader` (browser) and `import_uploader_server`
//! 3. `wasm-opt -Oz` from npm's binaryen, and the JS glue minified with
//!    npm's esbuild (see [`minify_glue`]), when installed
//! 4. `package.json`, per-runtime entry files, `index.d.ts`, README
//! 5. a smoke test: both builds load in Node and report their version
//! 6. a table of raw and gzip sizes of the .wasm and the JS glue of each

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::package::{self, OUT_NAME, SERVER_OUT_NAME};
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

/// One wasm-bindgen output in `pkg/`: the crate built with `features`, as
/// `<out_name>.js` and `<out_name>_bg.wasm`.
struct Flavour {
    /// What the size table calls it.
    label: &'static str,
    out_name: &'static str,
    /// `cargo build` feature arguments.
    features: &'static [&'static str],
}

/// The browser build leaves the edge broker out (`--no-default-features`):
/// it is the one whose size matters. Node, Deno and workerd load the full
/// build with the default features.
const FLAVOURS: [Flavour; 2] = [
    Flavour {
        label: "browser",
        out_name: OUT_NAME,
        features: &["--no-default-features"],
    },
    Flavour {
        label: "server (node, deno, workerd)",
        out_name: SERVER_OUT_NAME,
        features: &[],
    },
];

/// Builds `pkg/`.
pub fn run(ws: &Workspace) -> Result<()> {
    let pkg = ws.pkg_dir();
    let manifest = ws.root_manifest()?;
    let meta = package::read_meta(&manifest)?;
    let built = ws.target_dir.join(WASM_TARGET).join("wasm");
    let scratch = ws.scratch_dir();
    std::fs::create_dir_all(&scratch)?;

    // Both builds write the same artifact: keep a copy of each.
    let mut modules = Vec::new();
    for f in &FLAVOURS {
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
                .args(f.features)
                .env("CARGO_ENCODED_RUSTFLAGS", remap_rustflags(ws)),
        )?;
        let copy = scratch.join(format!("{}.wasm", f.out_name));
        std::fs::copy(built.join(format!("{OUT_NAME}.wasm")), &copy)
            .with_context(|| format!("copying the {} module", f.label))?;
        modules.push(copy);
    }
    let outputs = |f: &Flavour| {
        (
            pkg.join(format!("{}_bg.wasm", f.out_name)),
            pkg.join(format!("{}.js", f.out_name)),
        )
    };

    // Skip wasm-bindgen and wasm-opt when nothing changed since the last build.
    let stamp = scratch.join("pkg-stamp");
    let inputs = inputs_fingerprint(&modules, &manifest)?;
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(inputs.as_str())
        && pkg.join("package.json").exists()
        && FLAVOURS.iter().all(|f| outputs(f).0.exists())
    {
        println!("build: pkg/ is up to date");
        print_all_sizes(&outputs)?;
        return Ok(());
    }
    let _ = std::fs::remove_file(&stamp);
    if pkg.exists() {
        std::fs::remove_dir_all(&pkg).with_context(|| format!("clearing {}", pkg.display()))?;
    }
    std::fs::create_dir_all(&pkg)?;
    let wasm_opt = ws.root.join("node_modules").join(".bin").join("wasm-opt");
    let esbuild = ws.root.join("node_modules").join(".bin").join("esbuild");
    for (f, module) in FLAVOURS.iter().zip(&modules) {
        process::run(
            ws.cmd("wasm-bindgen")
                .args([
                    "--target",
                    "web",
                    "--out-dir",
                    "pkg",
                    "--out-name",
                    f.out_name,
                    "--remove-name-section",
                    "--remove-producers-section",
                ])
                .arg(module),
        )?;
        let (wasm, glue) = outputs(f);
        if esbuild.exists() {
            minify_glue(ws, &esbuild, &glue, f.out_name)?;
        } else {
            println!(
                "build: {} not found (npm install); the JS glue is not minified",
                esbuild.display()
            );
        }
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
    }

    package::write(&pkg, &meta)?;
    smoke_test(ws, &pkg, &meta.version)?;
    std::fs::write(&stamp, &inputs)?;
    print_all_sizes(&outputs)?;
    println!("build: npm package {} {} in pkg/", meta.name, meta.version);
    Ok(())
}

/// Minifies wasm-bindgen's JS glue in place (`esbuild --minify`): the glue
/// counts toward the package's size as much as the `.wasm` does, and half
/// of it is doc comments (the same docs are in `index.d.ts`) and long
/// local names. Exported classes and functions keep their `name` (what
/// consoles show for `ImportClient` objects) although their bindings are
/// renamed; the `@ts-self-types` header that points Deno at the types goes
/// back on top.
fn minify_glue(ws: &Workspace, esbuild: &Path, glue: &Path, out_name: &str) -> Result<()> {
    let mut source =
        std::fs::read_to_string(glue).with_context(|| format!("reading {}", glue.display()))?;
    let exported: Vec<&str> = source
        .lines()
        .filter_map(|l| {
            l.strip_prefix("export class ")
                .or_else(|| l.strip_prefix("export function "))
        })
        .filter_map(|rest| {
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))?;
            Some(&rest[..end])
        })
        .filter(|name| !name.is_empty())
        .collect();
    let names = exported
        .iter()
        .map(|n| format!("[{n},\"{n}\"]"))
        .collect::<Vec<_>>()
        .join(",");
    source.push_str(&format!(
        "\nfor(const[f,n]of[{names}])Object.defineProperty(f,\"name\",{{value:n}});\n"
    ));
    let input = ws.scratch_dir().join(format!("{out_name}.full.js"));
    std::fs::write(&input, source)?;
    process::run(
        ws.cmd(esbuild)
            .arg(&input)
            .args(["--minify", "--format=esm", "--log-level=warning"])
            .arg(format!("--outfile={}", glue.display())),
    )?;
    let minified = std::fs::read_to_string(glue)?;
    std::fs::write(
        glue,
        format!("/* @ts-self-types=\"./{out_name}.d.ts\" */\n{minified}"),
    )?;
    Ok(())
}

/// The size table of each build.
fn print_all_sizes(outputs: &dyn Fn(&Flavour) -> (PathBuf, PathBuf)) -> Result<()> {
    for f in &FLAVOURS {
        let (wasm, glue) = outputs(f);
        println!("\n{} build:", f.label);
        print_sizes(&[&wasm, &glue])?;
    }
    Ok(())
}

/// What the package is made from: the compiled module, the manifest, and
/// this xtask itself (its code writes the package files).
fn inputs_fingerprint(modules: &[PathBuf], manifest: &str) -> Result<String> {
    let mut prints = Vec::new();
    for m in modules {
        let bytes = std::fs::read(m).with_context(|| format!("reading {}", m.display()))?;
        prints.push(fingerprint(&bytes));
    }
    let xtask_built = std::env::current_exe()
        .and_then(|p| p.metadata())
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    Ok(format!(
        "{} {} {xtask_built}",
        prints.join(" "),
        fingerprint(manifest.as_bytes())
    ))
}

/// Loads the package in Node through its `node` entry and checks
/// `version()`; loads the browser build too (Node can instantiate it with
/// `initSync`), so a browser module that fails to link is caught here.
fn smoke_test(ws: &Workspace, pkg: &Path, version: &str) -> Result<()> {
    let entry = pkg.join("entry-node.js");
    let browser_glue = pkg.join(format!("{OUT_NAME}.js"));
    let browser_wasm = pkg.join(format!("{OUT_NAME}_bg.wasm"));
    let script = format!(
        "import {{ readFileSync }} from 'node:fs';\n\
         const m = await import({});\n\
         const v = m.version();\n\
         if (v !== {version}) {{ console.error(`version() is ${{v}}`); process.exit(1); }}\n\
         if (typeof m.ImportClient !== 'function') {{ console.error('no ImportClient'); process.exit(1); }}\n\
         const b = await import({});\n\
         b.initSync({{ module: readFileSync(new URL({})) }});\n\
         if (b.version() !== {version}) {{ console.error('the browser build does not load'); process.exit(1); }}\n\
         if (typeof b.ImportClient !== 'function') {{ console.error('no ImportClient in the browser build'); process.exit(1); }}",
        serde_json::to_string(&file_url(&entry)?)?,
        serde_json::to_string(&file_url(&browser_glue)?)?,
        serde_json::to_string(&file_url(&browser_wasm)?)?,
        version = serde_json::to_string(version)?,
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
    println!("build: both builds load in Node, version() = {version}");
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
