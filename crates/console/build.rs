//! Builds the web console (`web/`, esbuild) into `OUT_DIR/dist` and writes `OUT_DIR/assets.rs`,
//! the table of files `src/lib.rs` embeds. Runs `npm ci` when `web/node_modules` is missing or
//! older than `web/package-lock.json`, then `node build.mjs --outdir OUT_DIR/dist`. Cargo
//! reruns it when the web sources change. Without Node.js/npm the build fails with a message
//! saying so: a binary without its console is never produced silently.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: building the dnsledger web console failed: {e}");
        std::process::exit(1);
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn tool(name: &str, web: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new(name).args(args).current_dir(web).status().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "`{name}` was not found. The console's assets are built from web/ with Node.js (>= 18) and npm: \
                 install them (scripts/deps.sh does: Debian packages nodejs and npm) and build again"
            )
        } else {
            format!("cannot run `{name}` in {}: {e}", web.display())
        }
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{name} {}` in {} failed ({status}); its output is above", args.join(" "), web.display()))
    }
}

/// Writes `file.gz` beside `file` when that saves at least a quarter; returns its path.
fn gzip(file: &Path) -> Result<Option<PathBuf>, String> {
    use std::io::Write;
    let raw = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&raw).map_err(|e| format!("gzip {}: {e}", file.display()))?;
    let packed = enc.finish().map_err(|e| format!("gzip {}: {e}", file.display()))?;
    if packed.len() * 4 > raw.len() * 3 {
        return Ok(None);
    }
    let mut out = file.as_os_str().to_owned();
    out.push(".gz");
    let out = PathBuf::from(out);
    std::fs::write(&out, packed).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(Some(out))
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| format!("CARGO_MANIFEST_DIR: {e}"))?);
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| format!("OUT_DIR: {e}"))?);
    let web = manifest.join("../../web");
    for p in ["src", "index.html", "build.mjs", "package.json", "package-lock.json"] {
        println!("cargo:rerun-if-changed={}", web.join(p).display());
    }
    let lock = web.join("package-lock.json");
    if !lock.exists() {
        return Err(format!("{} is missing: the console's sources are not in this tree", lock.display()));
    }
    let installed = web.join("node_modules/.package-lock.json");
    if mtime(&installed).is_none() || mtime(&installed) < mtime(&lock) {
        tool("npm", &web, &["ci", "--no-audit", "--no-fund"])?;
    }
    let dist = out.join("dist");
    if dist.exists() {
        std::fs::remove_dir_all(&dist).map_err(|e| format!("cannot clear {}: {e}", dist.display()))?;
    }
    let dist_arg = format!("--outdir={}", dist.display());
    tool("node", &web, &["build.mjs", &dist_arg])?;

    let mut files: Vec<PathBuf> = std::fs::read_dir(&dist)
        .map_err(|e| format!("cannot list {}: {e}", dist.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if !files.iter().any(|p| p.ends_with("index.html")) {
        return Err(format!("the build left no index.html in {}", dist.display()));
    }
    let mut table = String::from("/// The built console's files.\npub static ASSETS: &[crate::Asset] = &[\n");
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).ok_or_else(|| format!("odd file name {}", f.display()))?;
        let mime = match f.extension().and_then(|e| e.to_str()) {
            Some("html") => "text/html; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("txt") => "text/plain; charset=utf-8",
            Some("svg") => "image/svg+xml",
            Some("png") => "image/png",
            _ => "application/octet-stream",
        };
        let gz = if mime.starts_with("text/") && name != "index.html" { gzip(f)? } else { None };
        let gz = match gz {
            Some(p) => format!("Some(include_bytes!({:?}))", p.display().to_string()),
            None => "None".to_string(),
        };
        table += &format!(
            "    crate::Asset {{ name: {name:?}, mime: {mime:?}, bytes: include_bytes!({:?}), gzip: {gz} }},\n",
            f.display().to_string()
        );
    }
    table += "];\n";
    std::fs::write(out.join("assets.rs"), table).map_err(|e| format!("cannot write assets.rs: {e}"))?;
    Ok(())
}
