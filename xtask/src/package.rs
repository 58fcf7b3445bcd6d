//! The npm package's own files, written next to wasm-bindgen's output in
//! `pkg/`: `package.json` (version, description and license from the root
//! `Cargo.toml`), one entry file per runtime chosen by a conditional
//! `exports` map, the shared `index.d.ts`, and the package README.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// Base name of wasm-bindgen's output of the browser build (`<name>.js`,
/// `<name>_bg.wasm`): built without the default features, so without the
/// edge broker, which only servers run.
pub const OUT_NAME: &str = "import_uploader";
/// Base name of the server build (Node, Deno, workerd): every feature.
/// Its types are the package's (`index.d.ts`), being the fuller ones.
pub const SERVER_OUT_NAME: &str = "import_uploader_server";

/// Base name of the preflight's module (`import-uploader/preflight`), the
/// `import-uploader-preflight` crate: one build for every runtime.
pub const PREFLIGHT_OUT_NAME: &str = "import_uploader_preflight";
/// The preflight's entry for browsers: starts the Worker (source:
/// `js/preflight/entry-browser.js`).
pub const PREFLIGHT_BROWSER_ENTRY: &str = "preflight-browser.js";
/// The preflight's module Worker, bundled with its glue and driver, in the
/// package's folder beside its `.wasm` (source: `js/preflight/worker.js`).
pub const PREFLIGHT_WORKER: &str = "preflight-worker.js";
/// The Worker's source, which `cargo xtask build` bundles.
pub const PREFLIGHT_WORKER_SOURCE: &str = include_str!("../../js/preflight/worker.js");
/// The preflight's driver, shared by the Worker and the server entries.
const PREFLIGHT_RUN: &str = "preflight-run.js";
/// The preflight's types.
const PREFLIGHT_TYPES: &str = "preflight.d.ts";
/// The preflight's entry files (the exports map orders their conditions).
const PREFLIGHT_ENTRY_NAMES: [&str; 4] = [
    "preflight-node.js",
    "preflight-workerd.js",
    "preflight-deno.js",
    PREFLIGHT_BROWSER_ENTRY,
];

/// What `package.json` takes from the root manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub name: String,
    pub version: String,
    pub description: String,
    pub license: String,
    pub repository: Option<String>,
}

/// A `key = "value"` in `[section]` of a TOML file (just enough TOML for the
/// root manifest: single-line basic strings).
fn toml_string(manifest: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            current = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
            continue;
        }
        if current != section {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() != key {
            continue;
        }
        let v = v.trim();
        if let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            return Some(inner.replace("\\\"", "\"").replace("\\\\", "\\"));
        }
    }
    None
}

/// Reads `[package]` (falling back to `[workspace.package]` for inherited keys).
pub fn read_meta(manifest: &str) -> Result<Meta> {
    let get = |key: &str| {
        toml_string(manifest, "package", key)
            .or_else(|| toml_string(manifest, "workspace.package", key))
    };
    Ok(Meta {
        name: toml_string(manifest, "package", "name").context("[package] name")?,
        version: get("version").context("[package] version")?,
        description: get("description").unwrap_or_default(),
        license: get("license").context("[package] license")?,
        repository: get("repository"),
    })
}

/// `import-uploader/node`: serves a fetch-style handler (the broker) with
/// Node's `http` module (source: `js/node-adapter.js`).
const NODE_ADAPTER: &str = "node-adapter.js";
/// Its types.
const NODE_ADAPTER_TYPES: &str = "node-adapter.d.ts";
/// `import-uploader/cloudflare`: the broker's rate limit shared through a
/// Durable Object (source: `js/cloudflare.js`).
const CLOUDFLARE: &str = "cloudflare.js";
/// Its types.
const CLOUDFLARE_TYPES: &str = "cloudflare.d.ts";
/// `import-uploader/element`: the `<import-uploader>` custom element
/// (source: `js/element.js`; minified by the build, its size gated).
pub const ELEMENT: &str = "element.js";
/// Its types.
const ELEMENT_TYPES: &str = "element.d.ts";
/// Files on disk as upload sources (paths, `file:` URLs), which only the
/// Node entry loads (source: `js/node-files.js`).
const NODE_FILES: &str = "node-files.js";
/// The command line (`bin` `import-uploader`, Node ≥ 20): `cli/<name>`,
/// from `js/cli/`.
const CLI_FILES: [(&str, &str); 5] = [
    ("main.js", include_str!("../../js/cli/main.js")),
    ("args.js", include_str!("../../js/cli/args.js")),
    ("files.js", include_str!("../../js/cli/files.js")),
    ("journal.js", include_str!("../../js/cli/journal.js")),
    ("output.js", include_str!("../../js/cli/output.js")),
];

/// The browser entry's source: it loads the module in the background
/// (no top-level await) and defers the API until it is there (see its
/// first comment). `@VERSION@` is the package version.
const BROWSER_ENTRY: &str = include_str!("../../js/entry-browser.js");

/// The entry files (the exports map orders their conditions).
pub const ENTRY_NAMES: [&str; 4] = [
    "entry-node.js",
    "entry-workerd.js",
    "entry-deno.js",
    "entry-browser.js",
];

/// Where the browser build's `.wasm` goes in the package:
/// `<package name>/<name>_bg.wasm`. Its URL relative to the glue and the
/// browser entry is then also the package's subpath
/// `<package name>/<name>_bg.wasm` (exported), which is what the Vite dev
/// server resolves after moving the entry to its dependency cache; see
/// `js/entry-browser.js`.
pub fn browser_wasm(meta: &Meta) -> String {
    package_wasm(meta, OUT_NAME)
}

/// Where a module that browsers load goes in the package:
/// `<package name>/<out_name>_bg.wasm` (see [`browser_wasm`]).
pub fn package_wasm(meta: &Meta, out_name: &str) -> String {
    format!("{}/{out_name}_bg.wasm", meta.name)
}

/// Writes the sources the preflight's Worker is bundled from and the server
/// entries import: its driver, beside the glue.
pub fn write_preflight_sources(pkg: &Path) -> Result<()> {
    let p = pkg.join(PREFLIGHT_RUN);
    std::fs::write(&p, include_str!("../../js/preflight/run.js"))
        .with_context(|| format!("writing {}", p.display()))
}

/// The preflight's entry files: the servers load its module in-process at
/// import, browsers run it in a module Worker kept between calls.
fn preflight_entries(meta: &Meta) -> Vec<(&'static str, String)> {
    let glue = format!("./{PREFLIGHT_OUT_NAME}.js");
    let wasm = format!("./{}", package_wasm(meta, PREFLIGHT_OUT_NAME));
    let body = format!(
        "import * as core from '{glue}';\n\
         import {{ inProcess, normalisedInProcess }} from './{PREFLIGHT_RUN}';\n\n\
         core.initSync({{ module: wasmModule }});\n\n\
         /** Both run in this thread (see preflight.d.ts). */\n\
         export const preflight = inProcess(core);\n\
         export const normalised = normalisedInProcess(core);\n\
         /** Nothing to load ahead here: the module is instantiated on import. */\n\
         export const preload = () => Promise.resolve();\n\
         export {{ DEFAULT_SAMPLE_BYTES }} from './{PREFLIGHT_RUN}';\n"
    );
    let entries = vec![
        (
            "preflight-node.js",
            format!(
                "// Node: fetch() cannot read file: URLs, so read the module from disk.\n\
                 import {{ readFileSync }} from 'node:fs';\n\
                 const wasmModule = readFileSync(new URL('{wasm}', import.meta.url));\n{body}"
            ),
        ),
        (
            "preflight-workerd.js",
            format!(
                "// Cloudflare workerd: .wasm imports are compiled modules.\n\
                 import wasmModule from '{wasm}';\n{body}"
            ),
        ),
        (
            "preflight-deno.js",
            format!(
                "// Deno 2: a source-phase import needs no read permission.\n\
                 import source wasmModule from '{wasm}';\n{body}"
            ),
        ),
        (
            PREFLIGHT_BROWSER_ENTRY,
            include_str!("../../js/preflight/entry-browser.js").to_string(),
        ),
    ];
    debug_assert!(entries.iter().map(|(n, _)| *n).eq(PREFLIGHT_ENTRY_NAMES));
    entries
}

/// What the server entries add to the glue's exports: `ready`, which the
/// browser entry has too (here the module is instantiated at import).
const SERVER_READY: &str =
    "\n// Instantiated above, at import: nothing to wait for (the browser entry\n\
     // loads in the background and has a pending `ready`).\n\
     export const ready = Promise.resolve();\n";

/// Entry files: (file, contents). Node, Deno and workerd load the server
/// build synchronously at import; browsers load the browser build in the
/// background (`js/entry-browser.js`).
fn entries(meta: &Meta) -> Result<Vec<(&'static str, String)>> {
    let glue = format!("./{SERVER_OUT_NAME}.js");
    let wasm = format!("./{SERVER_OUT_NAME}_bg.wasm");
    let wasm_url = browser_wasm(meta);
    for needle in [
        format!("new URL('{wasm_url}', import.meta.url)"),
        format!("import * as wasm from './{OUT_NAME}.js'"),
        "'@VERSION@'".to_string(),
    ] {
        if BROWSER_ENTRY.matches(&needle).count() != 1 {
            bail!("js/entry-browser.js must contain `{needle}` exactly once");
        }
    }
    let browser = BROWSER_ENTRY.replace("'@VERSION@'", &json_str(&meta.version));
    let entries = vec![
        (
            "entry-node.js",
            format!(
                "// Node: fetch() cannot read file: URLs, so read the module from disk.\n\
                 import {{ readFileSync }} from 'node:fs';\n\
                 import {{ initSync, ImportClient, upload as uploadSource }} from '{glue}';\n\
                 import {{ acceptPaths }} from './{NODE_FILES}';\n\n\
                 initSync({{ module: readFileSync(new URL('{wasm}', import.meta.url)) }});\n\n\
                 export * from '{glue}';\n\
                 // Paths and file: URLs as files (./{NODE_FILES}).\n\
                 export const upload = acceptPaths(ImportClient, uploadSource);\n{SERVER_READY}"
            ),
        ),
        (
            "entry-workerd.js",
            format!(
                "// Cloudflare workerd: .wasm imports are compiled modules.\n\
                 import wasmModule from '{wasm}';\n\
                 import {{ initSync }} from '{glue}';\n\n\
                 initSync({{ module: wasmModule }});\n\n\
                 export * from '{glue}';\n{SERVER_READY}"
            ),
        ),
        (
            "entry-deno.js",
            format!(
                "// Deno 2: a source-phase import needs no read permission.\n\
                 import source wasmModule from '{wasm}';\n\
                 import {{ initSync }} from '{glue}';\n\n\
                 initSync({{ module: wasmModule }});\n\n\
                 export * from '{glue}';\n{SERVER_READY}"
            ),
        ),
        ("entry-browser.js", browser),
    ];
    debug_assert!(entries.iter().map(|(n, _)| *n).eq(ENTRY_NAMES));
    Ok(entries)
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// `package.json`, keys in a deliberate order (conditions are matched in
/// order: `types` first, `deno` before `node`).
pub fn package_json(meta: &Meta) -> String {
    let mut files: Vec<String> = Vec::new();
    for name in [OUT_NAME, SERVER_OUT_NAME] {
        files.push(format!("{name}.js"));
        files.push(format!("{name}.d.ts"));
        files.push(if name == OUT_NAME {
            browser_wasm(meta)
        } else {
            format!("{name}_bg.wasm")
        });
        files.push(format!("{name}_bg.wasm.d.ts"));
    }
    files.push(format!("{PREFLIGHT_OUT_NAME}.js"));
    files.push(format!("{PREFLIGHT_OUT_NAME}.d.ts"));
    files.push(package_wasm(meta, PREFLIGHT_OUT_NAME));
    files.push(format!("{PREFLIGHT_OUT_NAME}_bg.wasm.d.ts"));
    files.push(format!("{}/{PREFLIGHT_WORKER}", meta.name));
    files.push(PREFLIGHT_RUN.into());
    files.push(PREFLIGHT_TYPES.into());
    files.extend(PREFLIGHT_ENTRY_NAMES.iter().map(|n| n.to_string()));
    files.push("index.d.ts".into());
    files.push(NODE_ADAPTER.into());
    files.push(NODE_ADAPTER_TYPES.into());
    files.push(CLOUDFLARE.into());
    files.push(CLOUDFLARE_TYPES.into());
    files.push(ELEMENT.into());
    files.push(ELEMENT_TYPES.into());
    files.push(NODE_FILES.into());
    files.extend(CLI_FILES.iter().map(|(n, _)| format!("cli/{n}")));
    files.extend(ENTRY_NAMES.iter().map(|n| n.to_string()));
    files.push("README.md".into());
    let list = |items: &[String]| {
        items
            .iter()
            .map(|f| format!("    {}", json_str(f)))
            .collect::<Vec<_>>()
            .join(",\n")
    };
    // The element's module defines `<import-uploader>` when imported.
    let side_effects: Vec<String> = ENTRY_NAMES
        .iter()
        .chain(&PREFLIGHT_ENTRY_NAMES)
        .chain([&ELEMENT])
        .map(|n| format!("./{n}"))
        .collect();
    let repository = meta
        .repository
        .as_deref()
        .map(|r| {
            format!(
                "  \"repository\": {{ \"type\": \"git\", \"url\": {} }},\n",
                json_str(r)
            )
        })
        .unwrap_or_default();
    format!(
        r#"{{
  "name": {name},
  "version": {version},
  "description": {description},
  "license": {license},
{repository}  "type": "module",
  "types": "./index.d.ts",
  "bin": {{ {name}: "./cli/main.js" }},
  "exports": {{
    ".": {{
      "types": "./index.d.ts",
      "workerd": "./entry-workerd.js",
      "deno": "./entry-deno.js",
      "node": "./entry-node.js",
      "browser": "./entry-browser.js",
      "default": "./entry-browser.js"
    }},
    "./preflight": {{
      "types": "./{PREFLIGHT_TYPES}",
      "workerd": "./preflight-workerd.js",
      "deno": "./preflight-deno.js",
      "node": "./preflight-node.js",
      "browser": "./{PREFLIGHT_BROWSER_ENTRY}",
      "default": "./{PREFLIGHT_BROWSER_ENTRY}"
    }},
    "./node": {{
      "types": "./{NODE_ADAPTER_TYPES}",
      "default": "./{NODE_ADAPTER}"
    }},
    "./cloudflare": {{
      "types": "./{CLOUDFLARE_TYPES}",
      "default": "./{CLOUDFLARE}"
    }},
    "./element": {{
      "types": "./{ELEMENT_TYPES}",
      "default": "./{ELEMENT}"
    }},
    {wasm_subpath}: {wasm_file},
    {preflight_wasm_subpath}: {preflight_wasm_file},
    {worker_subpath}: {worker_file},
    "./package.json": "./package.json"
  }},
  "files": [
{files}
  ],
  "sideEffects": [
{side_effects}
  ],
  "engines": {{ "node": ">=20" }},
  "keywords": ["import", "upload", "csv", "wasm", "azure-blob", "s3", "gcs"]
}}
"#,
        name = json_str(&meta.name),
        version = json_str(&meta.version),
        description = json_str(&meta.description),
        license = json_str(&meta.license),
        files = list(&files),
        side_effects = list(&side_effects),
        wasm_subpath = json_str(&format!("./{OUT_NAME}_bg.wasm")),
        wasm_file = json_str(&format!("./{}", browser_wasm(meta))),
        preflight_wasm_subpath = json_str(&format!("./{PREFLIGHT_OUT_NAME}_bg.wasm")),
        preflight_wasm_file = json_str(&format!("./{}", package_wasm(meta, PREFLIGHT_OUT_NAME))),
        worker_subpath = json_str(&format!("./{PREFLIGHT_WORKER}")),
        worker_file = json_str(&format!("./{}/{PREFLIGHT_WORKER}", meta.name)),
    )
}

/// `index.d.ts`: the server build's types (the browser build has the same
/// API less the edge broker) and `ready`, which the entry files add.
fn index_types() -> String {
    format!(
        r#"// Types shared by every entry file (the server build's: the browser
// build has the same API less the edge broker).
export * from './{SERVER_OUT_NAME}.js';

/**
 * Settles when the WebAssembly module is instantiated. Awaiting it is
 * optional: in Node, Deno and workerd the module is instantiated at
 * import and `ready` is already resolved; in browsers it is fetched in
 * the background from import time, and every call made before then waits
 * for it (constructors and the methods that answer at once still work:
 * `new ImportClient(…)` keeps its options until the first call, and
 * `upload()`, `resumeUpload()` and `errorRows()` give an `Upload` or
 * `ErrorRows` that starts when the module is there; an option error then
 * rejects `done`, the first `next()` or the first method call instead of
 * throwing). After `ready`, everything runs at once, as documented.
 *
 * Rejects with an `ImportError` of kind `network` and code
 * `WASM_LOAD_FAILED` when the module cannot be loaded; calls made later
 * try again.
 */
export declare const ready: Promise<void>;
"#
    )
}

/// Writes the package's own files into `pkg`.
pub fn write(pkg: &Path, meta: &Meta) -> Result<()> {
    let write = |name: &str, text: &str| {
        let p = pkg.join(name);
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))
    };
    for (name, text) in entries(meta)?.into_iter().chain(preflight_entries(meta)) {
        write(name, &text)?;
    }
    write_preflight_sources(pkg)?;
    write(
        PREFLIGHT_TYPES,
        include_str!("../../js/preflight/preflight.d.ts"),
    )?;
    write("index.d.ts", &index_types())?;
    write("package.json", &package_json(meta))?;
    write("README.md", include_str!("pkg_readme.md"))?;
    write(NODE_ADAPTER, include_str!("../../js/node-adapter.js"))?;
    write(
        NODE_ADAPTER_TYPES,
        include_str!("../../js/node-adapter.d.ts"),
    )?;
    write(CLOUDFLARE, include_str!("../../js/cloudflare.js"))?;
    write(CLOUDFLARE_TYPES, include_str!("../../js/cloudflare.d.ts"))?;
    write(ELEMENT, include_str!("../../js/element.js"))?;
    write(ELEMENT_TYPES, include_str!("../../js/element.d.ts"))?;
    write(NODE_FILES, include_str!("../../js/node-files.js"))?;
    std::fs::create_dir_all(pkg.join("cli")).context("creating pkg/cli")?;
    for (name, text) in CLI_FILES {
        write(&format!("cli/{name}"), text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
[workspace.package]
license = "MIT OR Apache-2.0"
repository = "https://example.test/repo"

[package]
name = "import-uploader"
version = "1.2.3"
description = "Says \"hi\"."
license.workspace = true

[dependencies]
version = "not this one"
"#;

    #[test]
    fn reads_package_and_inherited_keys() {
        let m = read_meta(MANIFEST).unwrap();
        assert_eq!(m.name, "import-uploader");
        assert_eq!(m.version, "1.2.3");
        assert_eq!(m.description, "Says \"hi\".");
        assert_eq!(m.license, "MIT OR Apache-2.0");
        assert_eq!(m.repository.as_deref(), Some("https://example.test/repo"));
    }

    #[test]
    fn package_json_is_valid_and_ordered() {
        let text = package_json(&read_meta(MANIFEST).unwrap());
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], "1.2.3");
        assert_eq!(v["type"], "module");
        assert_eq!(v["exports"]["."]["node"], "./entry-node.js");
        assert_eq!(v["exports"]["./node"]["default"], "./node-adapter.js");
        assert_eq!(v["exports"]["./cloudflare"]["default"], "./cloudflare.js");
        assert_eq!(v["exports"]["./cloudflare"]["types"], "./cloudflare.d.ts");
        assert_eq!(v["exports"]["./element"]["default"], "./element.js");
        assert_eq!(v["exports"]["./element"]["types"], "./element.d.ts");
        assert!(v["sideEffects"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("./element.js")));
        assert_eq!(v["bin"]["import-uploader"], "./cli/main.js");
        assert!(v["files"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("cli/main.js")));
        assert!(v["files"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("cloudflare.js")));
        let order = ["types", "workerd", "deno", "node", "browser", "default"];
        let pos: Vec<usize> = order
            .iter()
            .map(|k| text.find(&format!("\"{k}\": \"./")).unwrap())
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{pos:?}");
        assert!(v["files"].as_array().unwrap().contains(&serde_json::json!(
            "import-uploader/import_uploader_bg.wasm"
        )));
        assert_eq!(
            v["exports"]["./import_uploader_bg.wasm"],
            "./import-uploader/import_uploader_bg.wasm"
        );
        assert!(v["files"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("import_uploader_server_bg.wasm")));
    }

    #[test]
    fn the_preflight_is_its_own_export_with_an_entry_per_runtime() {
        let text = package_json(&read_meta(MANIFEST).unwrap());
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let p = &v["exports"]["./preflight"];
        assert_eq!(p["types"], "./preflight.d.ts");
        assert_eq!(p["workerd"], "./preflight-workerd.js");
        assert_eq!(p["deno"], "./preflight-deno.js");
        assert_eq!(p["node"], "./preflight-node.js");
        assert_eq!(p["browser"], "./preflight-browser.js");
        assert_eq!(p["default"], "./preflight-browser.js");
        // Conditions match in order: `types` first, `deno` before `node`.
        let block = &text[text.find("\"./preflight\": {").unwrap()..];
        let pos: Vec<usize> = ["types", "workerd", "deno", "node", "browser", "default"]
            .iter()
            .map(|k| block.find(&format!("\"{k}\": \"./")).unwrap())
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{pos:?}");
        assert_eq!(
            v["exports"]["./preflight-worker.js"],
            "./import-uploader/preflight-worker.js"
        );
        assert_eq!(
            v["exports"]["./import_uploader_preflight_bg.wasm"],
            "./import-uploader/import_uploader_preflight_bg.wasm"
        );
        let files = v["files"].as_array().unwrap();
        for f in [
            "import-uploader/preflight-worker.js",
            "import-uploader/import_uploader_preflight_bg.wasm",
            "preflight-run.js",
            "preflight.d.ts",
            "preflight-node.js",
            "preflight-browser.js",
        ] {
            assert!(files.contains(&serde_json::json!(f)), "{f} not in files");
        }
        // The upload entries never name the preflight.
        let meta = read_meta(MANIFEST).unwrap();
        for (name, text) in entries(&meta).unwrap() {
            assert!(!text.contains("preflight"), "{name} names the preflight");
        }
    }
}
