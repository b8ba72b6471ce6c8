// Helpers of the browser tests: the release binary, a fake LiteLLM, Chromium.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";

export const root = fileURLToPath(new URL("../../", import.meta.url));
export const dist = join(root, "web", "dist");
export const artifacts = join(root, "tests", "browser", "artifacts");
const requireWeb = createRequire(join(root, "web", "package.json"));
export const pulse = createRequire(import.meta.url)(join(root, "pulse-wasm", "pkg-node", "pulse_wasm.js"));

/** The release binary; built by `cargo build --release -p pulse-host` beforehand. */
export function binary() {
  const bin = process.env.LITELLM_PULSE_BIN ?? join(root, "target", "release", "litellm-pulse");
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: run cargo build --release -p pulse-host`);
  }
  return bin;
}

/** Builds web/dist when it is missing. */
export function ensureDist() {
  if (!existsSync(join(dist, "index.html"))) {
    execFileSync("npm", ["run", "build"], { cwd: join(root, "web"), stdio: "inherit" });
  }
}

/**
 * Starts the release binary with `args` and resolves with its base URL once
 * it prints the address it listens on. Output is kept for failure messages.
 */
export function startPulse(args, env = {}) {
  const proc = spawn(binary(), args, {
    env: { ...process.env, LITELLM_PULSE_LOG_LEVEL: "info", NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  // A loaded machine backfills the demo slowly: PULSE_START_TIMEOUT_S waits longer.
  const seconds = Number(process.env.PULSE_START_TIMEOUT_S ?? 120);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGTERM");
      reject(new Error(`litellm-pulse did not announce its address in ${seconds} s:\n${output}`));
    }, seconds * 1000);
    const onData = (chunk) => {
      output += chunk.toString();
      const m = output.match(/(?:open|listening on) (http:\/\/[0-9.:[\]]+\/)/);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          output: () => output,
          stop: () =>
            new Promise((done) => {
              if (proc.exitCode !== null) return done();
              proc.once("exit", () => done());
              proc.kill("SIGTERM");
            }),
        });
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`litellm-pulse exited with ${code}:\n${output}`));
    });
  });
}

export const CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Where the browser opens the dashboard: the binary itself, which embeds
 * web/dist. Fails when the binary does not serve the page with its policy,
 * so the tests can never pass on files served from beside the binary.
 */
export async function dashboardOrigin(pulseUrl) {
  const resp = await fetch(pulseUrl, { headers: { accept: "text/html" } });
  const page = await resp.text();
  if (!page.includes('id="cards"')) {
    throw new Error(`${pulseUrl} does not serve the dashboard (HTTP ${resp.status}): rebuild with cargo build --release -p pulse-host after cargo xtask web`);
  }
  if (resp.headers.get("content-security-policy") !== CSP) {
    throw new Error(`unexpected Content-Security-Policy: ${resp.headers.get("content-security-policy")}`);
  }
  return { url: pulseUrl, embedded: true, close: async () => {} };
}

/**
 * A fake LiteLLM whose counters grow on every scrape, for model `model`.
 * `growFor`: the counters stop growing after that many scrapes (so the
 * numbers hold still for a test); `extra`: more exposition lines, such as
 * LiteLLM's own budget gauges; `latency`: a request latency histogram too.
 */
export async function fakeLiteLLM(model, { growFor = Infinity, extra = [], latency = false } = {}) {
  let n = 0;
  const esc = (s) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  const server = createServer((req, res) => {
    n += 1;
    const k = Math.min(n, growFor);
    const labels = `api_key_alias="k1",hashed_api_key="abc",requested_model="${esc(model)}",team_alias="t1"`;
    const body = [
      "# TYPE litellm_spend_metric_total counter",
      `litellm_spend_metric_total{${labels}} ${(0.25 * k).toFixed(2)}`,
      "# TYPE litellm_proxy_total_requests_metric_total counter",
      `litellm_proxy_total_requests_metric_total{${labels}} ${k * 2}`,
      "# TYPE litellm_total_tokens_metric_total counter",
      `litellm_total_tokens_metric_total{${labels}} ${k * 100}`,
      // With `latency`: per scrape, two requests, one of 0.25–0.5 s and one of 0.5–1 s.
      ...(latency
        ? [
            "# TYPE litellm_request_total_latency_metric histogram",
            `litellm_request_total_latency_metric_bucket{${labels},le="0.5"} ${k}.0`,
            `litellm_request_total_latency_metric_bucket{${labels},le="1.0"} ${2 * k}.0`,
            `litellm_request_total_latency_metric_bucket{${labels},le="+Inf"} ${2 * k}.0`,
            `litellm_request_total_latency_metric_count{${labels}} ${2 * k}.0`,
            `litellm_request_total_latency_metric_sum{${labels}} ${(1.2 * k).toFixed(1)}`,
          ]
        : []),
      ...extra,
      "",
    ].join("\n");
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    scrapes: () => n,
    close: () => new Promise((r) => server.close(r)),
  };
}

/** A LiteLLM that always fails: HTTP `status` with `body`, counting the scrapes. */
export async function failingLiteLLM(status, body) {
  let n = 0;
  const server = createServer((req, res) => {
    n += 1;
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    scrapes: () => n,
    close: () => new Promise((r) => server.close(r)),
  };
}

/** A webhook receiver answering every request with HTTP `status`, keeping the JSON bodies. */
export async function webhookReceiver(status) {
  const bodies = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      bodies.push(body);
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(status < 300 ? "ok" : "no");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/hook`,
    bodies: () => bodies.slice(),
    close: () => new Promise((r) => server.close(r)),
  };
}

const tempDirs = [];
process.on("exit", () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A new temporary directory, removed when the test process exits. */
export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), "pulse-browser-"));
  tempDirs.push(dir);
  return dir;
}

/**
 * Headless Chromium from Debian with a fresh profile (a persistent context
 * on a new temporary directory: Playwright passes --user-data-dir itself),
 * nothing reaching out, and the browser's time zone set to `timezoneId`.
 */
export async function launch(timezoneId) {
  const { chromium } = requireWeb("playwright-core");
  return chromium.launchPersistentContext(tempDir(), {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    timezoneId,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-quic",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Records console errors, page errors, failed requests and HTTP errors of a page. */
export function watch(page) {
  const problems = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  page.on("response", (resp) => {
    if (resp.status() >= 400) problems.push(`HTTP ${resp.status()}: ${resp.url()}`);
  });
  page.on("dialog", async (d) => {
    problems.push(`dialog: ${d.message()}`);
    await d.dismiss();
  });
  return problems;
}
