//! Set-up shared by `demo`, `test` and `build`: where the workspace is, and
//! installing what a fresh machine lacks — the `wasm32-unknown-unknown`
//! target, the pinned `wasm-bindgen-cli` (its version read from the root
//! `Cargo.toml`'s `wasm-bindgen = "=X.Y.Z"` pin, the single source of truth)
//! and the npm packages of the committed `package-lock.json`; for the
//! `lint` suite, the `clippy` and `rustfmt` components and the pinned
//! `cargo-machete` ([`ensure_lint_tools`]). Each step is a cheap check when
//! there is nothing to do.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::process::{probe, run};

/// The wasm target the package is built for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Paths and tools of the workspace.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The workspace root (holds the root `Cargo.toml`).
    pub root: PathBuf,
    /// Cargo's target directory.
    pub target_dir: PathBuf,
    /// `cargo` (the one that runs us, when known).
    pub cargo: OsString,
    /// `PATH` with cargo's bin directory in front, for tools `cargo install` puts there.
    path: OsString,
}

impl Workspace {
    /// The workspace this xtask belongs to.
    pub fn locate() -> Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask lives inside the workspace")?
            .to_path_buf();
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|p| if p.is_absolute() { p } else { root.join(p) })
            .unwrap_or_else(|| root.join("target"));
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let cargo_bin = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
            .map(|h| h.join("bin"));
        let mut paths: Vec<PathBuf> = cargo_bin.into_iter().collect();
        if let Some(p) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&p));
        }
        let path = std::env::join_paths(paths).context("PATH")?;
        Ok(Workspace {
            root,
            target_dir,
            cargo,
            path,
        })
    }

    /// A command run in the workspace root with the workspace's `PATH`.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.root).env("PATH", &self.path);
        c
    }

    /// `cargo …` in the workspace root.
    pub fn cargo(&self) -> Command {
        self.cmd(&self.cargo)
    }

    /// The generated npm package.
    pub fn pkg_dir(&self) -> PathBuf {
        self.root.join("pkg")
    }

    /// The xtask's own scratch directory under the target directory.
    pub fn scratch_dir(&self) -> PathBuf {
        self.target_dir.join("xtask")
    }

    /// The root `Cargo.toml`'s text.
    pub fn root_manifest(&self) -> Result<String> {
        let p = self.root.join("Cargo.toml");
        std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
    }
}

/// Installs whatever is missing. Fast when nothing is.
pub fn ensure(ws: &Workspace) -> Result<()> {
    ensure_wasm_target(ws)?;
    ensure_wasm_bindgen(ws)?;
    ensure_npm_packages(ws)?;
    Ok(())
}

fn ensure_wasm_target(ws: &Workspace) -> Result<()> {
    let installed = probe(ws.cmd("rustup").args(["target", "list", "--installed"]));
    match installed {
        Some(list) if list.lines().any(|l| l.trim() == WASM_TARGET) => Ok(()),
        Some(_) => run(ws.cmd("rustup").args(["target", "add", WASM_TARGET])),
        None => {
            // No rustup: the toolchain may still have the target (e.g. a distro Rust).
            println!("setup: rustup not found; assuming the toolchain has {WASM_TARGET}");
            Ok(())
        }
    }
}

/// The version in the root manifest's `wasm-bindgen = "=X.Y.Z"` pin.
pub fn pinned_wasm_bindgen(manifest: &str) -> Result<String> {
    for line in manifest.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("wasm-bindgen") else {
            continue;
        };
        let rest = rest.trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue; // wasm-bindgen-futures, wasm-bindgen-test, …
        };
        // `"=0.2.130"` or `{ version = "=0.2.130", … }`.
        let rest = match rest.find("version") {
            Some(i) if rest.trim_start().starts_with('{') => &rest[i + "version".len()..],
            _ => rest,
        };
        let start = rest
            .find('"')
            .context("wasm-bindgen pin has no quoted version")?;
        let rest = &rest[start + 1..];
        let end = rest
            .find('"')
            .context("unterminated wasm-bindgen version")?;
        let version = &rest[..end];
        let Some(exact) = version.strip_prefix('=') else {
            bail!(
                "the root Cargo.toml must pin wasm-bindgen exactly (`wasm-bindgen = \"={version}\"`): \
                 the CLI and the crate must be the same version"
            );
        };
        return Ok(exact.trim().to_string());
    }
    bail!("no `wasm-bindgen = \"=X.Y.Z\"` dependency in the root Cargo.toml")
}

fn ensure_wasm_bindgen(ws: &Workspace) -> Result<()> {
    let want = pinned_wasm_bindgen(&ws.root_manifest()?)?;
    let have = |tool: &str| -> Option<String> {
        probe(ws.cmd(tool).arg("--version"))
            .and_then(|out| out.split_whitespace().nth(1).map(str::to_string))
    };
    let cli = have("wasm-bindgen");
    let runner = have("wasm-bindgen-test-runner");
    if cli.as_deref() == Some(want.as_str()) && runner.as_deref() == Some(want.as_str()) {
        return Ok(());
    }
    println!(
        "setup: installing wasm-bindgen-cli {want} (found {}; this takes a few minutes, once)",
        cli.as_deref().unwrap_or("none")
    );
    // Not `--locked`: the CLI's lockfile may name versions newer than the
    // registry mirror serves.
    run(ws
        .cargo()
        .args(["install", "wasm-bindgen-cli", "--version", &want, "--force"]))?;
    if have("wasm-bindgen").as_deref() != Some(want.as_str()) {
        bail!("wasm-bindgen {want} was installed but is not the one on PATH; put cargo's bin directory first in PATH");
    }
    Ok(())
}

/// The `cargo-machete` the lint suite runs (unused dependencies); set-up
/// installs exactly this version when another or none is found.
pub const CARGO_MACHETE_VERSION: &str = "0.9.2";

/// The tools of the `lint` suite: the toolchain's `clippy` and `rustfmt`
/// components and the pinned `cargo-machete`. Fast when they are there; a
/// missing `cargo-machete` takes a few minutes to build, once.
pub fn ensure_lint_tools(ws: &Workspace) -> Result<()> {
    for (component, subcommand) in [("clippy", "clippy"), ("rustfmt", "fmt")] {
        if probe(ws.cargo().args([subcommand, "--version"])).is_some() {
            continue;
        }
        println!("setup: adding the toolchain's {component} component");
        run(ws.cmd("rustup").args(["component", "add", component]))?;
    }
    let have = || {
        probe(ws.cmd("cargo-machete").arg("--version"))
            .and_then(|out| machete_version(&out).map(str::to_string))
    };
    let found = have();
    if found.as_deref() == Some(CARGO_MACHETE_VERSION) {
        return Ok(());
    }
    println!(
        "setup: installing cargo-machete {CARGO_MACHETE_VERSION} (found {}; this takes a few minutes, once)",
        found.as_deref().unwrap_or("none")
    );
    // Not `--locked`, as for wasm-bindgen-cli: the registry mirror may lack
    // versions its lockfile names.
    run(ws.cargo().args([
        "install",
        "cargo-machete",
        "--version",
        CARGO_MACHETE_VERSION,
        "--force",
    ]))?;
    if have().as_deref() != Some(CARGO_MACHETE_VERSION) {
        bail!("cargo-machete {CARGO_MACHETE_VERSION} was installed but is not the one on PATH; put cargo's bin directory first in PATH");
    }
    Ok(())
}

/// The version in `cargo-machete --version`'s output (`cargo-machete 0.9.2`,
/// or the bare version).
fn machete_version(out: &str) -> Option<&str> {
    out.split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
}

/// FNV-1a, 64 bit: a stable fingerprint of the lockfile for the install stamp.
pub fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn ensure_npm_packages(ws: &Workspace) -> Result<()> {
    let lock = ws.root.join("package-lock.json");
    let lock_bytes = std::fs::read(&lock).with_context(|| format!("reading {}", lock.display()))?;
    let want = fingerprint(&lock_bytes);
    let node_modules = ws.root.join("node_modules");
    let stamp = node_modules.join(".xtask-install-stamp");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        return Ok(());
    }
    if probe(ws.cmd("npm").arg("--version")).is_none() {
        bail!(
            "npm is needed for the package's tools (wasm-opt from binaryen): install Node.js 20 \
             or later with npm (Debian: apt-get install nodejs npm)"
        );
    }
    println!("setup: installing npm packages from package-lock.json");
    run(ws.cmd("npm").args(["ci", "--no-audit", "--no-fund"]))?;
    std::fs::write(&stamp, &want).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(())
}

/// Where headless-browser tests find Chromium and its WebDriver.
#[derive(Debug, Clone)]
pub struct Chromium {
    /// The `chromedriver` binary.
    pub chromedriver: PathBuf,
}

/// Debian's Chromium binary, as `webdriver.json` names it.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Finds Chromium and chromedriver; installs Debian's packages when they are
/// missing and we may (root on Debian), else fails naming them.
pub fn ensure_chromium(ws: &Workspace) -> Result<Chromium> {
    if let Some(c) = find_chromium(ws) {
        return Ok(c);
    }
    let debian = Path::new("/etc/debian_version").exists();
    let root = probe(Command::new("id").arg("-u")).as_deref() == Some("0");
    if !(debian && root) {
        bail!(
            "the browser test suites need Chromium and chromedriver at {CHROMIUM} and on PATH: \
             install Debian's `chromium` and `chromium-driver` packages \
             (as root: apt-get install chromium chromium-driver)"
        );
    }
    println!("setup: installing Debian's chromium and chromium-driver");
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "chromium", "chromium-driver"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    find_chromium(ws).context("chromium-driver was installed but chromedriver is still not found")
}

fn find_chromium(ws: &Workspace) -> Option<Chromium> {
    if !Path::new(CHROMIUM).exists() {
        return None;
    }
    let on_path = std::env::split_paths(&ws.path)
        .map(|d| d.join("chromedriver"))
        .find(|p| p.is_file());
    let chromedriver = on_path.or_else(|| {
        let p = PathBuf::from("/usr/bin/chromedriver");
        p.is_file().then_some(p)
    })?;
    Some(Chromium { chromedriver })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_exact_pin() {
        let m = "[dependencies]\nwasm-bindgen-futures = \"0.4\"\nwasm-bindgen = \"=0.2.130\"\n";
        assert_eq!(pinned_wasm_bindgen(m).unwrap(), "0.2.130");
        let m = "wasm-bindgen = { version = \"=0.2.99\", default-features = false }\n";
        assert_eq!(pinned_wasm_bindgen(m).unwrap(), "0.2.99");
    }

    #[test]
    fn refuses_a_loose_or_missing_pin() {
        let err = pinned_wasm_bindgen("wasm-bindgen = \"0.2\"\n").unwrap_err();
        assert!(err.to_string().contains("exactly"), "{err}");
        assert!(pinned_wasm_bindgen("serde = \"1\"\n").is_err());
    }

    #[test]
    fn reads_the_machete_version() {
        assert_eq!(machete_version("cargo-machete 0.9.2"), Some("0.9.2"));
        assert_eq!(machete_version("0.9.2"), Some("0.9.2"));
        assert_eq!(machete_version("cargo-machete"), None);
    }

    #[test]
    fn fingerprint_is_stable_and_sensitive() {
        assert_eq!(fingerprint(b""), "cbf29ce484222325");
        assert_ne!(fingerprint(b"a"), fingerprint(b"b"));
    }
}
