//! `cargo xtask build`: the npm package in `pkg/`.
//!
//! 1. `cargo build --target wasm32-unknown-unknown --profile wasm`: the
//!    upload crate (`-p import-uploader`) twice, with
//!    `--no-default-features` for browsers (no edge broker) and with the
//!    default features for servers (Node, Deno, workerd); and, with
//!    `--profile wasm-preflight` (import-core at `opt-level = "s"`, see
//!    Cargo.toml), the preflight's own crate (`-p import-uploader-preflight`),
//!    one build for every runtime, which only `import-uploader/preflight` loads
//! 2. `wasm-bindgen --target web` of each (name and producers sections
//!    removed): `import_uploader` (browser), `import_uploader_server` and
//!    `import_uploader_preflight`
//! 3. the JS glue bundled with its snippet (`js/host.js`, the one module
//!    Rust code imports: more fail the build, see [`check_one_snippet`])
//!    and minified by npm's esbuild (see [`bundle_glue`]);
//!    `wasm-opt` from npm's binaryen ([`WASM_OPT_FLAGS`]), when installed
//! 4. the module's import names shortened, in the `.wasm` and the glue
//!    alike (see [`shorten_imports`]); the preflight's module Worker
//!    bundled with its glue and driver (see [`bundle_worker`]); the
//!    browser-loaded `.wasm` files moved to `<package name>/` (see
//!    [`package::package_wasm`])
//! 5. the wire types' TypeScript, generated from import-core's contract,
//!    appended to the upload builds' `.d.ts` (see [`add_wire_types`]);
//!    `package.json`, per-runtime entry files (the browser ones minified),
//!    `index.d.ts`, `preflight.d.ts`, README; the preflight's browser
//!    entry bundled with its driver and glue (see [`bundle_entry`])
//! 6. a smoke test: both upload builds load in Node and report their
//!    version, the browser entry works before and after its module is
//!    instantiated, and the preflight answers in Node
//! 7. a table of the gzip -9 sizes of each build's .wasm and JS glue (and
//!    the browser entry, which pages load too; for the preflight, its
//!    Worker and its browser entry), and the size gate: the build fails
//!    when a module is over its budget ([`BUDGETS`]: the browser build
//!    ≤ 100 KB, the preflight ≤ 150 KB, the element's module
//!    `element.js`, minified, ≤ 16 KB); the server build's size is
//!    reported, not gated

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::package::{self, OUT_NAME, PREFLIGHT_OUT_NAME, SERVER_OUT_NAME};
use crate::process;
use crate::setup::{fingerprint, Workspace, WASM_TARGET};

/// How wasm-opt optimises every module: for size, inlining a function
/// that has one caller only when it is small (20 instructions; binaryen's
/// default inlines one-caller functions of any size). Inlined large bodies
/// repeat the callers' local shuffling, which compresses worse: measured
/// on the browser build, gzip -9 1,685 bytes smaller than plain `-Oz`
/// (raw 1.7 % larger), and on the preflight module ~7 KB smaller.
///
/// The pipeline runs twice: the second pass finds what the first one's
/// inlining and merging opened up. `--low-memory-unused` lets it fold a
/// constant added to an address into the load's or store's offset, which
/// is only wrong if the address computation wraps around 4 GiB into the
/// first KiB of memory: Rust code never does (pointer arithmetic that
/// wraps is undefined behaviour), and the first KiB is the bottom of the
/// 1 MiB stack (`wasm-ld --stack-first`). `-Os` rather than `-Oz`: its
/// output is a little larger raw but compresses better. Measured with
/// `cargo xtask build` (gzip -9, binaryen 132): the browser build 99,574
/// bytes with `-Os -Os` against 99,979 with `-Oz -Oz`, the preflight
/// 146,268 against 146,546 (see docs/size.md for each step).
const WASM_OPT_FLAGS: &[&str] = &[
    "-Os",
    "-Os",
    "--one-caller-inline-max-function-size=20",
    "--low-memory-unused",
];

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

/// One wasm-bindgen output in `pkg/`: a crate of the workspace built with
/// `features`, as `<out_name>.js` and `<out_name>_bg.wasm`.
struct Flavour {
    /// What the size table calls it.
    label: &'static str,
    out_name: &'static str,
    /// The crate (`cargo build -p`).
    package: &'static str,
    /// `cargo build` feature arguments.
    features: &'static [&'static str],
    /// Whether the `.wasm` moves to [`package::package_wasm`] (see there).
    wasm_in_package_dir: bool,
    /// The entry file that loads it, when it counts toward the size: the
    /// browser entry (which defers the API until the module is there)
    /// ships to pages; the servers' are two lines.
    entry: Option<&'static str>,
    /// Whether the wire types' TypeScript goes into its `.d.ts`.
    wire_types: bool,
    /// A module Worker bundled with the glue (see [`bundle_worker`]): what
    /// browsers load instead of the glue, so it is what the size counts.
    worker: Option<&'static str>,
    /// The Cargo profile it is built with (Cargo.toml).
    profile: &'static str,
}

/// The browser build leaves the edge broker out (`--no-default-features`):
/// it is the one whose size matters. Node, Deno and workerd load the full
/// build with the default features.
/// The preflight (`import-uploader/preflight`) is a crate of its own, one
/// build for every runtime: browsers load it in a module Worker
/// ([`package::PREFLIGHT_WORKER`]), servers in-process.
const FLAVOURS: [Flavour; 3] = [
    Flavour {
        label: "browser",
        out_name: OUT_NAME,
        package: "import-uploader",
        features: &["--no-default-features"],
        wasm_in_package_dir: true,
        entry: Some("entry-browser.js"),
        wire_types: true,
        worker: None,
        profile: "wasm",
    },
    Flavour {
        label: "server (node, deno, workerd)",
        out_name: SERVER_OUT_NAME,
        package: "import-uploader",
        features: &[],
        wasm_in_package_dir: false,
        entry: None,
        wire_types: true,
        worker: None,
        profile: "wasm",
    },
    Flavour {
        label: "preflight (browser worker)",
        out_name: PREFLIGHT_OUT_NAME,
        package: "import-uploader-preflight",
        features: &[],
        wasm_in_package_dir: true,
        entry: Some(package::PREFLIGHT_BROWSER_ENTRY),
        wire_types: false,
        worker: Some(package::PREFLIGHT_WORKER),
        profile: "wasm-preflight",
    },
];

/// Builds `pkg/`.
pub fn run(ws: &Workspace) -> Result<()> {
    let pkg = ws.pkg_dir();
    let manifest = ws.root_manifest()?;
    let meta = package::read_meta(&manifest)?;
    let built = ws.target_dir.join(WASM_TARGET);
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
                    f.profile,
                    "-p",
                    f.package,
                ])
                .args(f.features)
                .env("CARGO_ENCODED_RUSTFLAGS", remap_rustflags(ws)),
        )?;
        let copy = scratch.join(format!("{}.wasm", f.out_name));
        let artifact = f.package.replace('-', "_");
        std::fs::copy(
            built.join(f.profile).join(format!("{artifact}.wasm")),
            &copy,
        )
        .with_context(|| format!("copying the {} module", f.label))?;
        modules.push(copy);
    }
    let browser_wasm = package::browser_wasm(&meta);
    let outputs = |f: &Flavour| -> Outputs {
        let wasm = if f.wasm_in_package_dir {
            pkg.join(package::package_wasm(&meta, f.out_name))
        } else {
            pkg.join(format!("{}_bg.wasm", f.out_name))
        };
        let glue = match f.worker {
            Some(worker) => pkg.join(&meta.name).join(worker),
            None => pkg.join(format!("{}.js", f.out_name)),
        };
        (wasm, glue, f.entry.map(|e| pkg.join(e)))
    };

    // Skip wasm-bindgen and wasm-opt when nothing changed since the last build.
    let stamp = scratch.join("pkg-stamp");
    // The wire types' TypeScript is an input too: its prose is not linked
    // into the .wasm.
    let inputs = inputs_fingerprint(
        &modules,
        &format!("{manifest}\n{}", import_core::contract::typescript()),
    )?;
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(inputs.as_str())
        && pkg.join("package.json").exists()
        && FLAVOURS.iter().all(|f| outputs(f).0.exists())
    {
        println!("build: pkg/ is up to date");
        return size_gate(&outputs, &pkg.join(package::ELEMENT));
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
        // wasm-bindgen's name for the module, in pkg/.
        let wasm = pkg.join(format!("{}_bg.wasm", f.out_name));
        let glue = pkg.join(format!("{}.js", f.out_name));
        if !esbuild.exists() {
            bail!(
                "{} not found (npm ci): it bundles the package's JS snippets into the glue",
                esbuild.display()
            );
        }
        bundle_glue(ws, &esbuild, &glue, f.out_name)?;
        if wasm_opt.exists() {
            process::run(
                ws.cmd(&wasm_opt)
                    .args(WASM_OPT_FLAGS)
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
        shorten_imports(&wasm, &glue, f.out_name)?;
        if f.wire_types {
            add_wire_types(&pkg.join(format!("{}.d.ts", f.out_name)))?;
        }
        if let Some(worker) = f.worker {
            // Before the module moves: the Worker sits beside it, where the
            // glue's own URL of it (`<out_name>_bg.wasm`) is right.
            bundle_worker(ws, &esbuild, &pkg, &outputs(f).1, worker)?;
        }
        if f.wasm_in_package_dir {
            relocate_wasm(
                &wasm,
                &glue,
                &outputs(f).0,
                &package::package_wasm(&meta, f.out_name),
            )?;
        }
    }

    // The snippets (`js/host.js`) are bundled into each glue.
    let snippets = pkg.join("snippets");
    check_one_snippet(&snippets)?;
    if snippets.exists() {
        std::fs::remove_dir_all(&snippets)?;
    }
    package::write(&pkg, &meta)?;
    for f in &FLAVOURS {
        let Some(entry) = outputs(f).2 else { continue };
        if f.worker.is_some() {
            bundle_entry(ws, &esbuild, &entry)?;
        } else {
            minify_entry(ws, &esbuild, &entry)?;
        }
    }
    minify_entry(ws, &esbuild, &pkg.join(package::ELEMENT))?;
    smoke_test(ws, &pkg, &meta.version, &browser_wasm)?;
    std::fs::write(&stamp, &inputs)?;
    println!("build: npm package {} {} in pkg/", meta.name, meta.version);
    size_gate(&outputs, &pkg.join(package::ELEMENT))
}

/// Appends the wire types' TypeScript (`import_core::contract::typescript`)
/// to a `.d.ts` wasm-bindgen wrote. Fails when the hand-written TypeScript
/// of the crate declares one of them too: the wire types are described once,
/// in import-core, and a hand-kept copy is how they drifted before.
fn add_wire_types(dts: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(dts).with_context(|| format!("reading {}", dts.display()))?;
    let generated = import_core::contract::typescript();
    let declared = |name: &str| {
        text.contains(&format!("export interface {name} "))
            || text.contains(&format!("export type {name} "))
    };
    let names = import_core::contract::ALL_SHAPES
        .iter()
        .map(|d| d.name)
        .chain(import_core::contract::ts_unions().into_iter().map(|u| u.0));
    for name in names {
        if declared(name) {
            bail!(
                "{} declares `{name}` by hand, and the wire types' TypeScript generated from \
                 import-core's contract declares it too: remove the hand-written one \
                 (the wire types are described once, in core/src/contract/shapes.rs)",
                dts.display()
            );
        }
    }
    std::fs::write(dts, format!("{text}\n{generated}"))
        .with_context(|| format!("writing {}", dts.display()))
}

/// Moves the browser build's `.wasm` from `from` (wasm-bindgen's place,
/// next to the glue) to `to`, which is `pkg/<url>`, and points the glue's
/// default `new URL("<name>_bg.wasm", import.meta.url)` at `<url>` (the
/// browser entry loads the module from that URL itself; the glue's own
/// reference then names the same file, which bundlers emit once, instead
/// of one that is not there).
fn relocate_wasm(from: &Path, glue: &Path, to: &Path, url: &str) -> Result<()> {
    let name = from
        .file_name()
        .and_then(|n| n.to_str())
        .context("the module's file name")?;
    let js = std::fs::read_to_string(glue)?;
    let old = format!("new URL(\"{name}\",import.meta.url)");
    if js.matches(&old).count() != 1 {
        bail!(
            "{} should contain `{old}` once (wasm-bindgen's default module URL)",
            glue.display()
        );
    }
    std::fs::write(
        glue,
        js.replace(&old, &format!("new URL({},import.meta.url)", json(url))),
    )?;
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::rename(from, to)
        .with_context(|| format!("moving {} to {}", from.display(), to.display()))?;
    Ok(())
}

fn json(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// Minifies an entry file in place (`esbuild --minify --keep-names`, not
/// bundled: its imports stay), as the glue is.
fn minify_entry(ws: &Workspace, esbuild: &Path, entry: &Path) -> Result<()> {
    process::run(
        ws.cmd(esbuild)
            .arg(entry)
            .args([
                "--minify",
                "--keep-names",
                "--format=esm",
                "--log-level=warning",
            ])
            .arg(format!("--outfile={}", entry.display()))
            .arg("--allow-overwrite"),
    )
}

/// Bundles the preflight's browser entry with what it imports (the driver,
/// `preflight-run.js`, and the glue) into itself, minified: a page that
/// calls `preflight()` then fetches one script and the `.wasm` (and the
/// Worker for a whole file), and the size gate counts every byte of them.
/// As separate modules, the page fetched the driver and the glue one
/// after the other, before the `.wasm`, and they went uncounted.
fn bundle_entry(ws: &Workspace, esbuild: &Path, entry: &Path) -> Result<()> {
    // Exported functions keep their names, as in the other entries.
    esbuild_bundle(ws, esbuild, entry, entry, &["--keep-names"])?;
    let js = std::fs::read_to_string(entry)?;
    if let Some(import) = module_import(&js) {
        bail!(
            "{} still imports {import} after bundling: the size gate counts this one file, \
             so what the page fetches besides it (and the .wasm and Worker) would go uncounted",
            entry.display()
        );
    }
    Ok(())
}

/// The first module a minified script imports (`from"…"`, `import"…"` or
/// `import("…")`), if any.
fn module_import(js: &str) -> Option<&str> {
    [
        "from\"",
        "import\"",
        "import(\"",
        "from'",
        "import'",
        "import('",
    ]
    .iter()
    .filter_map(|p| {
        let at = js.find(p)? + p.len();
        let quote = p.as_bytes()[p.len() - 1] as char;
        let end = js[at..].find(quote)?;
        Some((at, &js[at..at + end]))
    })
    .min_by_key(|&(at, _)| at)
    .map(|(_, m)| m)
}

/// esbuild's minified ES module bundle of `input` into `out` (platform
/// neutral), with `extra` flags. wasm-bindgen's import object may name a
/// snippet twice: that warning is silenced.
fn esbuild_bundle(
    ws: &Workspace,
    esbuild: &Path,
    input: &Path,
    out: &Path,
    extra: &[&str],
) -> Result<()> {
    process::run(
        ws.cmd(esbuild)
            .arg(input)
            .args([
                "--bundle",
                "--minify",
                "--format=esm",
                "--platform=neutral",
                "--log-level=warning",
                "--log-override:duplicate-object-key=silent",
            ])
            .args(extra)
            .arg(format!("--outfile={}", out.display()))
            .arg("--allow-overwrite"),
    )
}

/// Bundles a module Worker (`js/preflight/worker.js`, which imports the
/// glue and the driver that [`package::write_preflight_sources`] puts in
/// `pkg/`) into one minified file `out`, in the package's folder beside
/// the `.wasm` it loads. One file, so that a page bundler that copies no
/// assets (esbuild) needs only that folder copied.
fn bundle_worker(
    ws: &Workspace,
    esbuild: &Path,
    pkg: &Path,
    out: &Path,
    worker: &str,
) -> Result<()> {
    package::write_preflight_sources(pkg)?;
    let input = pkg.join(format!("{worker}.src.js"));
    std::fs::write(&input, package::PREFLIGHT_WORKER_SOURCE)?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bundled = esbuild_bundle(ws, esbuild, &input, out, &[]);
    std::fs::remove_file(&input)?;
    bundled
}

/// Fails unless the crate imports its JavaScript from one module
/// (`js/host.js`): wasm-bindgen-test-runner's pages and workers load the
/// glue unbundled, and its HTTP server leaves some of a burst of parallel
/// module requests unanswered, so that the tests never start (see the
/// comment at the top of `js/host.js`).
fn check_one_snippet(snippets: &Path) -> Result<()> {
    fn files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                files(&path, out)?;
            } else {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut found = Vec::new();
    if snippets.exists() {
        files(snippets, &mut found)?;
    }
    // Named below their crate directory (`<crate>-<hash>/`), which the two
    // builds may name differently.
    let mut names: Vec<String> = found
        .iter()
        .filter_map(|p| p.strip_prefix(snippets).ok())
        .map(|p| {
            p.components()
                .skip(1)
                .collect::<PathBuf>()
                .display()
                .to_string()
        })
        .collect();
    names.sort();
    names.dedup();
    if names.len() > 1 {
        bail!(
            "the crate imports JavaScript from {} modules ({}): keep it in js/host.js, \
             one module (see its first comment)",
            names.len(),
            names.join(", ")
        );
    }
    Ok(())
}

/// Bundles wasm-bindgen's JS glue with the snippets it imports (the
/// crate's `#[wasm_bindgen(module = "/js/…")]` files, which wasm-bindgen
/// copies under `snippets/`) and minifies it, in place
/// (`esbuild --bundle --minify`). The glue counts toward the package's size
/// as much as the `.wasm` does, and half of it is doc comments (the same
/// docs are in `index.d.ts`) and long local names. Exported classes and
/// functions keep their `name` (what consoles show for `ImportClient`
/// objects) although their bindings are renamed; the `@ts-self-types`
/// header that points Deno at the types goes back on top.
fn bundle_glue(ws: &Workspace, esbuild: &Path, glue: &Path, out_name: &str) -> Result<()> {
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
    // Next to the glue, so that its `./snippets/…` imports resolve.
    let input = glue.with_file_name(format!("{out_name}.full.js"));
    std::fs::write(&input, source)?;
    let bundled = esbuild_bundle(ws, esbuild, &input, glue, &[]);
    std::fs::remove_file(&input)?;
    bundled?;
    let minified = std::fs::read_to_string(glue)?;
    std::fs::write(
        glue,
        format!("/* @ts-self-types=\"./{out_name}.d.ts\" */\n{minified}"),
    )?;
    Ok(())
}

/// Renames the module's imports to short names in the `.wasm` and in the
/// JS glue that provides them. wasm-bindgen names each import after its JS
/// function plus a 16-digit hash (`__wbg_fetch_5920647b8c3d1f12`), and
/// those ~130 names appear twice, in the import section and as the glue's
/// keys: shortening them saves ~4 KB gzip.
///
/// * Imports of the glue's own module (`./<out_name>_bg.js`) become `a`,
///   `b`, …, `ba`, … and their module `a`; each old name must appear
///   exactly once in the glue (as its key), or the build fails rather than
///   ship a module the glue cannot link.
/// * Imports wasm-bindgen takes straight from a snippet module (`js/*.js`,
///   bundled into the glue, which passes the module's namespace) keep their
///   names, which are the snippet's exports; only the module is renamed
///   (`b`, `c`, …) where the glue names it.
fn shorten_imports(wasm: &Path, glue: &Path, out_name: &str) -> Result<()> {
    let bytes = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let main = format!("./{out_name}_bg.js");
    let (bytes, renamed) = wasm_imports::rename(&bytes, &main, short_name)
        .with_context(|| format!("rewriting the imports of {}", wasm.display()))?;
    let mut js = std::fs::read_to_string(glue)?;
    let mut modules: Vec<(&str, &str)> = Vec::new();
    for r in &renamed {
        if r.module == main {
            js = replace_word_once(&js, &r.old, &r.new)
                .with_context(|| format!("the glue's import {}", r.old))?;
        }
        if !modules.iter().any(|(old, _)| *old == r.module) {
            modules.push((&r.module, &r.new_module));
        }
    }
    for (old, new) in modules {
        let mut found = 0;
        for quoted in [format!("\"{old}\""), format!("'{old}'")] {
            found += js.matches(quoted.as_str()).count();
            js = js.replace(quoted.as_str(), new);
        }
        if found == 0 || (old == main && found != 1) {
            bail!("the glue names the import module {old} {found} times");
        }
    }
    std::fs::write(wasm, bytes)?;
    std::fs::write(glue, js)?;
    Ok(())
}

/// The `n`-th short name: `a`…`z`, `A`…`Z`, then two letters, and so on.
fn short_name(mut n: usize) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(LETTERS[n % LETTERS.len()]);
        n /= LETTERS.len();
        if n == 0 {
            break;
        }
        n -= 1;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

/// `text` with the one whole-word occurrence of `word` replaced by `with`.
fn replace_word_once(text: &str, word: &str, with: &str) -> Result<String> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let hits: Vec<usize> = text
        .match_indices(word)
        .map(|(i, _)| i)
        .filter(|&i| {
            !text[..i].ends_with(is_ident) && !text[i + word.len()..].starts_with(is_ident)
        })
        .collect();
    match hits.as_slice() {
        [i] => Ok(format!("{}{with}{}", &text[..*i], &text[i + word.len()..])),
        _ => bail!("expected exactly one occurrence, found {}", hits.len()),
    }
}

/// Just enough of the WebAssembly binary format to rename imports.
mod wasm_imports {
    use anyhow::{bail, Result};

    fn leb(b: &[u8], at: &mut usize) -> Result<u32> {
        let (mut value, mut shift) = (0u64, 0);
        loop {
            let Some(&byte) = b.get(*at) else {
                bail!("truncated module");
            };
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| anyhow::anyhow!("LEB128 too large"));
            }
            shift += 7;
            if shift > 35 {
                bail!("LEB128 too long");
            }
        }
    }

    fn put_leb(out: &mut Vec<u8>, mut n: u32) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn name<'a>(b: &'a [u8], at: &mut usize) -> Result<&'a str> {
        let len = leb(b, at)? as usize;
        let Some(bytes) = b.get(*at..*at + len) else {
            bail!("truncated name");
        };
        *at += len;
        Ok(std::str::from_utf8(bytes)?)
    }

    fn put_name(out: &mut Vec<u8>, s: &str) {
        put_leb(out, s.len() as u32);
        out.extend_from_slice(s.as_bytes());
    }

    /// Skips a `limits` (table and memory types).
    fn limits(b: &[u8], at: &mut usize) -> Result<()> {
        let flags = *b
            .get(*at)
            .ok_or_else(|| anyhow::anyhow!("truncated limits"))?;
        *at += 1;
        leb(b, at)?;
        if flags & 1 != 0 {
            leb(b, at)?;
        }
        Ok(())
    }

    /// One import: its module and name before and after.
    pub struct Renamed {
        pub module: String,
        pub new_module: String,
        pub old: String,
        pub new: String,
    }

    /// The module with the imports of module `main` renamed `short(0)`,
    /// `short(1)`, … and `main` itself `short(0)`; the other modules
    /// renamed `short(1)`, `short(2)`, … with their imports' names kept.
    pub fn rename(
        module: &[u8],
        main: &str,
        short: impl Fn(usize) -> String,
    ) -> Result<(Vec<u8>, Vec<Renamed>)> {
        if module.get(..8) != Some(b"\0asm\x01\0\0\0".as_slice()) {
            bail!("not a WebAssembly module");
        }
        let mut out = module[..8].to_vec();
        let mut renamed = Vec::new();
        let mut at = 8;
        while at < module.len() {
            let id = module[at];
            at += 1;
            let len = leb(module, &mut at)? as usize;
            let Some(body) = module.get(at..at + len) else {
                bail!("truncated section");
            };
            at += len;
            if id != 2 {
                out.push(id);
                put_leb(&mut out, len as u32);
                out.extend_from_slice(body);
                continue;
            }
            let mut i = 0;
            let mut modules: Vec<String> = vec![main.to_string()];
            let mut main_imports = 0;
            let count = leb(body, &mut i)?;
            let mut section = Vec::new();
            put_leb(&mut section, count);
            for _ in 0..count {
                let old_module = name(body, &mut i)?.to_string();
                let old = name(body, &mut i)?.to_string();
                let desc_start = i;
                let kind = *body
                    .get(i)
                    .ok_or_else(|| anyhow::anyhow!("truncated import"))?;
                i += 1;
                match kind {
                    0 => {
                        leb(body, &mut i)?;
                    }
                    1 => {
                        i += 1;
                        limits(body, &mut i)?;
                    }
                    2 => limits(body, &mut i)?,
                    3 => i += 2,
                    4 => {
                        i += 1;
                        leb(body, &mut i)?;
                    }
                    k => bail!("unknown import kind {k}"),
                }
                let m = match modules.iter().position(|m| *m == old_module) {
                    Some(m) => m,
                    None => {
                        modules.push(old_module.clone());
                        modules.len() - 1
                    }
                };
                let new_module = short(m);
                let new = if m == 0 {
                    main_imports += 1;
                    short(main_imports - 1)
                } else {
                    old.clone()
                };
                put_name(&mut section, &new_module);
                put_name(&mut section, &new);
                section.extend_from_slice(&body[desc_start..i]);
                renamed.push(Renamed {
                    module: old_module,
                    new_module,
                    old,
                    new,
                });
            }
            if i != body.len() {
                bail!("unexpected bytes after the imports");
            }
            out.push(2);
            put_leb(&mut out, section.len() as u32);
            out.extend_from_slice(&section);
        }
        Ok((out, renamed))
    }
}

/// Size budgets, gzip -9 of a module's `.wasm` plus its JS glue (plus the
/// entry file that loads it, for the browser build), in bytes
/// (1 KB = 1,000 bytes), by the module's output name. `cargo xtask build`
/// fails when a module listed here is over its budget; a module not listed
/// (the server build) has its size reported only. A new module gets the
/// same gate with one row. The preflight's counts its browser entry (the
/// driver and the glue bundled into it, see [`bundle_entry`]), its Worker
/// (the same, bundled) and its `.wasm`: every byte a page that imports
/// `import-uploader/preflight` and runs a sample and a whole file loads.
/// The element
/// (`import-uploader/element`, [`ELEMENT_NAME`]) is JavaScript only and
/// gated on its own: its module, minified (the upload build and the
/// preflight it loads are counted in their rows).
pub const BUDGETS: &[(&str, usize)] = &[
    (OUT_NAME, 100_000),
    (PREFLIGHT_OUT_NAME, 150_000),
    (ELEMENT_NAME, 16_000),
];

/// What [`BUDGETS`] and the size table call the element's module.
const ELEMENT_NAME: &str = "element";

/// The budget of the module named `out_name`, if it has one.
fn budget_of(out_name: &str) -> Option<usize> {
    BUDGETS
        .iter()
        .find(|(name, _)| *name == out_name)
        .map(|&(_, b)| b)
}

/// One module's sizes: gzip -9 of its `.wasm`, of its JS glue and of the
/// entry file counted with them ([`Flavour::entry`]; 0 without one), and
/// the raw total.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ModuleSize {
    /// What the table calls the build.
    label: String,
    /// The module's output name (`import_uploader`, …): what [`BUDGETS`] keys on.
    out_name: String,
    wasm_gz: usize,
    glue_gz: usize,
    entry_gz: usize,
    raw: usize,
}

impl ModuleSize {
    fn total(&self) -> usize {
        self.wasm_gz + self.glue_gz + self.entry_gz
    }
}

/// The gate: `Err` naming the module, its size and its budget when it is
/// over; `Ok(None)` for a module without a budget (reported, not gated).
fn check_budget(size: &ModuleSize, budget: Option<usize>) -> Result<Option<usize>> {
    match budget {
        Some(b) if size.total() > b => bail!(
            "the {} build ({}) is {} bytes gzip -9 (.wasm {} + glue {} + entry {}), over \
             its budget of {} bytes by {} bytes",
            size.label,
            size.out_name,
            thousands(size.total()),
            thousands(size.wasm_gz),
            thousands(size.glue_gz),
            thousands(size.entry_gz),
            thousands(b),
            thousands(size.total() - b)
        ),
        other => Ok(other),
    }
}

/// Where a flavour's files are in `pkg/`: the `.wasm`, the glue, and the
/// entry file counted with them (see [`Flavour::entry`]).
type Outputs = (PathBuf, PathBuf, Option<PathBuf>);

/// Measures every build and the element's module (`element`, in `pkg/`),
/// prints the size table and fails when one is over its budget
/// ([`BUDGETS`]).
fn size_gate(outputs: &dyn Fn(&Flavour) -> Outputs, element: &Path) -> Result<()> {
    let mut sizes = Vec::new();
    for f in &FLAVOURS {
        let (wasm, glue, entry) = outputs(f);
        let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
        let (wasm, glue) = (read(&wasm)?, read(&glue)?);
        let entry = entry.as_deref().map(read).transpose()?.unwrap_or_default();
        sizes.push(ModuleSize {
            label: f.label.to_string(),
            out_name: f.out_name.to_string(),
            wasm_gz: gzip_len(&wasm)?,
            glue_gz: gzip_len(&glue)?,
            entry_gz: if entry.is_empty() {
                0
            } else {
                gzip_len(&entry)?
            },
            raw: wasm.len() + glue.len() + entry.len(),
        });
    }
    let element_js =
        std::fs::read(element).with_context(|| format!("reading {}", element.display()))?;
    sizes.push(ModuleSize {
        label: "element (<import-uploader>)".to_string(),
        out_name: ELEMENT_NAME.to_string(),
        wasm_gz: 0,
        glue_gz: 0,
        entry_gz: gzip_len(&element_js)?,
        raw: element_js.len(),
    });
    print!("{}", size_table(&sizes));
    let over: Vec<String> = sizes
        .iter()
        .filter_map(|s| check_budget(s, budget_of(&s.out_name)).err())
        .map(|e| e.to_string())
        .collect();
    if !over.is_empty() {
        bail!("size budget exceeded: {}", over.join("; "));
    }
    Ok(())
}

/// The size table: gzip -9 bytes of each build's `.wasm`, glue and total,
/// beside its budget and the verdict.
fn size_table(sizes: &[ModuleSize]) -> String {
    let mut t = String::from(
        "\nsizes, gzip -9 in bytes (1 KB = 1,000 bytes); raw = .wasm + glue + entry uncompressed\n",
    );
    t.push_str(&format!(
        "{:<30} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  verdict\n",
        "build", ".wasm", "glue", "entry", "total", "budget", "raw"
    ));
    for s in sizes {
        let budget = budget_of(&s.out_name);
        let verdict = match check_budget(s, budget) {
            Ok(Some(b)) => format!(
                "ok ({:.1} of {:.0} KB, {:.1} KiB)",
                kb(s.total()),
                kb(b),
                s.total() as f64 / 1024.0
            ),
            Ok(None) => format!("reported ({:.1} KiB)", s.total() as f64 / 1024.0),
            Err(_) => format!(
                "OVER BUDGET by {} bytes",
                thousands(s.total() - budget.unwrap_or_default())
            ),
        };
        t.push_str(&format!(
            "{:<30} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  {verdict}\n",
            s.label,
            thousands(s.wasm_gz),
            thousands(s.glue_gz),
            thousands(s.entry_gz),
            thousands(s.total()),
            budget.map(thousands).unwrap_or_else(|| "-".to_string()),
            thousands(s.raw),
        ));
    }
    t.push('\n');
    t
}

fn kb(bytes: usize) -> f64 {
    bytes as f64 / 1000.0
}

/// `95812` as `95,812`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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

/// Loads the package in Node: the server build through its `node` entry
/// (`version()`), and the browser entry before and after its module is
/// instantiated (`xtask/src/smoke_test.mjs`), so a browser module that fails
/// to link, or a member of the API the browser entry does not cover, is
/// caught here.
fn smoke_test(ws: &Workspace, pkg: &Path, version: &str, browser_wasm: &str) -> Result<()> {
    let out = ws
        .cmd("node")
        .args(["--input-type=module", "-e", include_str!("smoke_test.mjs")])
        .env("SMOKE_PKG", pkg)
        .env("SMOKE_VERSION", version)
        .env("SMOKE_BROWSER_WASM", browser_wasm)
        .output()
        .context("running node (Node.js 20 or later is needed)")?;
    if !out.status.success() {
        bail!(
            "the built package does not load in Node: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    print!("{}", String::from_utf8_lossy(&out.stdout));
    Ok(())
}

fn gzip_len(bytes: &[u8]) -> Result<usize> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn browser(wasm_gz: usize, glue_gz: usize) -> ModuleSize {
        ModuleSize {
            label: "browser".to_string(),
            out_name: OUT_NAME.to_string(),
            wasm_gz,
            glue_gz,
            entry_gz: 0,
            raw: 4 * (wasm_gz + glue_gz),
        }
    }

    #[test]
    fn the_browser_build_has_a_budget_of_100_kb() {
        assert_eq!(budget_of(OUT_NAME), Some(100_000));
        assert_eq!(budget_of(SERVER_OUT_NAME), None);
    }

    #[test]
    fn the_element_has_a_budget_of_its_own() {
        assert_eq!(budget_of(ELEMENT_NAME), Some(16_000));
        let element = ModuleSize {
            label: "element".to_string(),
            out_name: ELEMENT_NAME.to_string(),
            wasm_gz: 0,
            glue_gz: 0,
            entry_gz: 16_001,
            raw: 50_000,
        };
        let msg = check_budget(&element, budget_of(ELEMENT_NAME))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("by 1 bytes"), "{msg}");
    }

    #[test]
    fn module_import_finds_what_a_minified_script_still_imports() {
        assert_eq!(
            module_import(r#"import{a as b}from"./x.js";b()"#),
            Some("./x.js")
        );
        assert_eq!(module_import(r#"import"./side.js";"#), Some("./side.js"));
        assert_eq!(
            module_import(r#"var m=import("./lazy.js")"#),
            Some("./lazy.js")
        );
        assert_eq!(
            module_import("const u=new URL('a.wasm',import.meta.url)"),
            None
        );
        assert_eq!(module_import(r#"const s="importMode""#), None);
    }

    #[test]
    fn the_preflight_has_a_budget_of_150_kb() {
        assert_eq!(budget_of(PREFLIGHT_OUT_NAME), Some(150_000));
    }

    #[test]
    fn a_build_over_its_budget_fails_naming_module_size_and_budget() {
        let err = check_budget(&browser(92_000, 8_010), Some(100_000)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("browser"), "{msg}");
        assert!(msg.contains(OUT_NAME), "{msg}");
        assert!(msg.contains("100,010 bytes"), "{msg}");
        assert!(msg.contains("budget of 100,000 bytes"), "{msg}");
        assert!(msg.contains("by 10 bytes"), "{msg}");
    }

    #[test]
    fn a_build_at_or_under_its_budget_passes() {
        assert_eq!(
            check_budget(&browser(92_000, 8_000), Some(100_000)).unwrap(),
            Some(100_000)
        );
        assert_eq!(
            check_budget(&browser(1, 1), Some(100_000)).unwrap(),
            Some(100_000)
        );
    }

    #[test]
    fn a_build_without_a_budget_is_reported_not_gated() {
        let server = ModuleSize {
            label: "server".to_string(),
            out_name: SERVER_OUT_NAME.to_string(),
            wasm_gz: 500_000,
            glue_gz: 10_000,
            entry_gz: 0,
            raw: 2_000_000,
        };
        assert_eq!(
            check_budget(&server, budget_of(SERVER_OUT_NAME)).unwrap(),
            None
        );
        let table = size_table(&[server]);
        assert!(table.contains("reported"), "{table}");
    }

    #[test]
    fn the_table_shows_the_budget_beside_the_size() {
        let table = size_table(&[browser(87_000, 8_500)]);
        let row = table.lines().find(|l| l.starts_with("browser")).unwrap();
        assert!(row.contains("95,500"), "{row}");
        assert!(row.contains("100,000"), "{row}");
        assert!(row.contains("ok"), "{row}");
        let table = size_table(&[browser(95_000, 8_500)]);
        assert!(table.contains("OVER BUDGET by 3,500 bytes"), "{table}");
    }

    #[test]
    fn the_browser_entry_counts_toward_the_budget() {
        let mut size = browser(92_000, 7_500);
        assert!(check_budget(&size, Some(100_000)).is_ok());
        size.entry_gz = 1_700;
        let msg = check_budget(&size, Some(100_000)).unwrap_err().to_string();
        assert!(msg.contains("entry 1,700"), "{msg}");
        assert!(msg.contains("by 1,200 bytes"), "{msg}");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(95_812), "95,812");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
