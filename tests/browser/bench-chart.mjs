// Benchmark (not a test): in headless Chromium, bucket 90 days of 60 s
// points (129,600) into local days and hours with pulse-wasm and draw them
// with uPlot. Goal: under 150 ms.
//
//   npm --prefix web run build && node tests/browser/bench-chart.mjs
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { CSP, dist, ensureDist, launch } from "./support.mjs";

const here = fileURLToPath(new URL("./bench/", import.meta.url));
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm" };

ensureDist();
const server = createServer((req, res) => {
  const path = normalize(new URL(req.url, "http://x").pathname).replace(/^\/+/, "") || "index.html";
  const file = [join(here, path), join(dist, path)].find((f) => existsSync(f));
  if (!file || path.includes("..")) {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-security-policy": CSP });
  res.end(readFileSync(file));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const context = await launch("UTC");
try {
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => window.benchResults || window.benchError, null, { timeout: 120_000 });
  const error = await page.evaluate(() => window.benchError);
  if (error) throw new Error(error);
  const results = await page.evaluate(() => window.benchResults);
  for (const [step, r] of Object.entries(results)) {
    console.log(
      `${r.points} points -> ${r.buckets} ${step} buckets: bucketize ${r.bucketizeMs.toFixed(1)} ms + draw ${r.drawMs.toFixed(1)} ms = ${r.totalMs.toFixed(1)} ms (goal < 150 ms)`,
    );
  }
} finally {
  await context.close();
  server.close();
}
