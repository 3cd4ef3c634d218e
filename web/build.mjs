// Builds the console with esbuild: src/main.js (and what it imports) bundled and minified into
// OUTDIR/app.js + app.css, index.html copied beside them. crates/console/build.rs runs this with
// --outdir in its OUT_DIR and embeds the result in the dnsledger binary.
//
//   node build.mjs [--outdir DIR]                       one build (default DIR: dist)
//   node build.mjs --serve [--backend URL] [--port N]   development: rebuilds on change and serves
//       the console on http://127.0.0.1:N (default 5173), forwarding /api, /openapi.json,
//       /healthz and /metrics to a running `dnsledger serve` (default http://127.0.0.1:8053).
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.findIndex((a) => a === name || a.startsWith(name + "="));
  if (i < 0) return dflt;
  const a = args[i];
  return a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[i + 1];
}
const serve = args.includes("--serve");
const outdir = path.resolve(opt("--outdir", path.join(here, "dist")));

const options = {
  entryPoints: { app: path.join(here, "src/main.js") },
  bundle: true,
  minify: !serve,
  sourcemap: serve ? "inline" : false,
  format: "esm",
  target: ["chrome110", "firefox115", "safari16"],
  outdir,
  legalComments: "linked",
  logLevel: "warning",
};

mkdirSync(outdir, { recursive: true });
copyFileSync(path.join(here, "index.html"), path.join(outdir, "index.html"));

if (!serve) {
  const r = await esbuild.build({ ...options, metafile: true });
  const sizes = Object.entries(r.metafile.outputs).map(([f, o]) => `${path.basename(f)} ${(o.bytes / 1024).toFixed(0)} KiB`);
  console.log(`console built into ${outdir}: ${sizes.join(", ")}`);
} else {
  const backend = new URL(opt("--backend", "http://127.0.0.1:8053"));
  const port = Number(opt("--port", "5173"));
  const ctx = await esbuild.context(options);
  await ctx.watch();
  const { hosts, port: esPort } = await ctx.serve({ servedir: outdir, host: "127.0.0.1", port: 0 });
  const proxied = ["/api/", "/openapi.json", "/healthz", "/metrics"];
  http
    .createServer((req, res) => {
      const toBackend = proxied.some((p) => req.url.startsWith(p));
      const target = toBackend ? { host: backend.hostname, port: backend.port || 80 } : { host: hosts[0], port: esPort };
      // the page asks for console/app.js as dnsledger serves it; esbuild serves it at /app.js
      const path = toBackend ? req.url : req.url.replace(/^\/console\//, "/");
      const up = http.request({ ...target, path, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on("error", (e) => {
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(`cannot reach ${toBackend ? backend.href : "esbuild"}: ${e.message}\n`);
      });
      req.pipe(up);
    })
    .listen(port, "127.0.0.1", () => console.log(`console dev server on http://127.0.0.1:${port}/ (API: ${backend.href})`));
}
