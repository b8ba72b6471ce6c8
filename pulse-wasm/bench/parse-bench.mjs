// Benchmark (not a test): pulse-wasm against npm's parse-prometheus-text-format
// on a 10 MB LiteLLM-shaped body, in Node.
//
//   cargo xtask gen-body target/bench/body-10m.prom   (once)
//   pulse-wasm/scripts/build.sh                        (once)
//   node pulse-wasm/bench/parse-bench.mjs [body] [--runs N]
//
// Each timed run follows a full garbage collection (the script re-runs itself
// with --expose-gc), and the runs of all cases are interleaved round by round.
// Prints the median time and MB/s of each and the speed-up ratios. Goals: full
// parse into JS objects at least 3x faster, family totals at least 20x.
import { createRequire } from "node:module";
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { spawnSync } from "node:child_process";

// Every timed run starts after a full collection, so the garbage one parser
// leaves (the npm parser's millions of objects) is not collected inside the
// next one's timing. That needs `gc()`: re-run with --expose-gc if it is absent.
if (typeof globalThis.gc !== "function") {
  const r = spawnSync(process.execPath, ["--expose-gc", ...process.argv.slice(1)], { stdio: "inherit" });
  process.exit(r.status ?? 1);
}

const root = fileURLToPath(new URL("../../", import.meta.url));
const args = process.argv.slice(2);
const runsAt = args.indexOf("--runs");
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 7;
const bodyPath = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--runs")
  ?? join(root, "target", "bench", "body-10m.prom");
if (!existsSync(bodyPath)) {
  console.error(`${bodyPath} is missing: run cargo xtask gen-body ${bodyPath}`);
  process.exit(1);
}

const pulse = createRequire(import.meta.url)(join(root, "pulse-wasm", "pkg-node", "pulse_wasm.js"));
const requireWeb = createRequire(join(root, "web", "package.json"));
const pptModule = requireWeb("parse-prometheus-text-format");
const ppt = pptModule.default ?? pptModule;

const bytes = readFileSync(bodyPath);
const text = bytes.toString("utf8");
const mb = bytes.length / 1e6;

// What a JS developer does with the npm parser to get per-family totals.
function pptFamilyTotals(body) {
  const totals = {};
  for (const family of ppt(body)) {
    let sum = 0;
    for (const m of family.metrics) {
      if (m.value !== undefined) {
        const v = parseFloat(m.value);
        if (!Number.isNaN(v)) sum += v;
      } else {
        for (const v of Object.values(m.buckets ?? m.quantiles ?? {})) sum += parseFloat(v);
        if (m.count !== undefined) sum += parseFloat(m.count);
        if (m.sum !== undefined) sum += parseFloat(m.sum);
      }
    }
    totals[family.name] = sum;
  }
  return totals;
}

const cases = [
  ["parse-prometheus-text-format: full parse", () => ppt(text)],
  ["parse-prometheus-text-format: family totals", () => pptFamilyTotals(text)],
  ["pulse-wasm parse(string)", () => pulse.parse(text)],
  ["pulse-wasm parseBytes(Uint8Array)", () => pulse.parseBytes(bytes)],
  ["pulse-wasm familyTotals(string)", () => pulse.familyTotals(text)],
  ["pulse-wasm familyTotalsBytes(Uint8Array)", () => pulse.familyTotalsBytes(bytes)],
  ["pulse-wasm sampleTotals(string)", () => pulse.sampleTotals(text)],
  ["pulse-wasm sampleTotalsBytes(Uint8Array)", () => pulse.sampleTotalsBytes(bytes)],
];

// Rounds interleave the cases, so a slow spell of a shared machine slows
// every case of that round rather than all runs of one case.
const times = cases.map(() => []);
const outs = cases.map(([, fn]) => fn()); // warm-up (and JIT)
for (let r = 0; r < runs; r++) {
  cases.forEach(([, fn], i) => {
    outs[i] = undefined;
    globalThis.gc();
    const t0 = performance.now();
    outs[i] = fn();
    times[i].push(performance.now() - t0);
  });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = cases.map(([name], i) => {
  const ms = median(times[i]);
  return { name, ms, mbs: mb / (ms / 1000) };
});
const pptParsed = outs[0];
const ours = outs[2];

const samples = ours.families.reduce((n, f) => n + f.samples.length, 0);
console.log(`body: ${bodyPath} (${mb.toFixed(2)} MB, ${samples} samples, ${ours.families.length} families; npm parser: ${pptParsed.length} families), median of ${runs} runs`);
for (const r of rows) {
  console.log(`${r.name.padEnd(48)} ${r.ms.toFixed(1).padStart(8)} ms ${r.mbs.toFixed(0).padStart(6)} MB/s`);
}
const get = (name) => rows.find((r) => r.name === name).ms;
const base = get("parse-prometheus-text-format: full parse");
const baseTotals = get("parse-prometheus-text-format: family totals");
console.log(`full parse speed-up: ${(base / get("pulse-wasm parse(string)")).toFixed(1)}x (string), ${(base / get("pulse-wasm parseBytes(Uint8Array)")).toFixed(1)}x (bytes); goal 3x`);
console.log(`family totals speed-up: ${(baseTotals / get("pulse-wasm familyTotals(string)")).toFixed(1)}x (string), ${(baseTotals / get("pulse-wasm familyTotalsBytes(Uint8Array)")).toFixed(1)}x (bytes); goal 20x`);
