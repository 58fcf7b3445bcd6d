//! Running child processes: echo the command, fail with its exit status,
//! or stream its standard output to the terminal while keeping a copy.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{bail, Context, Result};

/// `program arg arg…` for messages (the program by its file name).
pub fn describe(cmd: &Command) -> String {
    let program = std::path::Path::new(cmd.get_program());
    let mut s = program
        .file_name()
        .unwrap_or(program.as_os_str())
        .to_string_lossy()
        .into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Prints the command, runs it with inherited stdio, fails unless it succeeds.
pub fn run(cmd: &mut Command) -> Result<()> {
    println!("$ {}", describe(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot run `{}`", describe(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(cmd));
    }
    Ok(())
}

/// Runs the command quietly and returns its trimmed stdout, or `None` when
/// it cannot be started or fails (used to probe for installed tools).
pub fn probe(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs the command, copying its stdout line by line to ours as it comes
/// (stderr is inherited), and returns the exit status and all stdout.
pub fn run_streamed(cmd: &mut Command) -> Result<(ExitStatus, String)> {
    println!("$ {}", describe(cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run `{}`", describe(cmd)))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut captured = String::new();
    let mut reader = BufReader::new(stdout);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .context("reading the child's output")?;
        if n == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf);
        // print! (not a raw stdout handle), so the test harness captures it.
        print!("{line}");
        let _ = std::io::stdout().flush();
        captured.push_str(&line);
    }
    let status = child.wait()?;
    Ok((status, captured))
}
