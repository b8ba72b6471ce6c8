// Benchmark (not a test): pulse-wasm against npm's parse-prometheus-text-format
// on a 10 MB LiteLLM-shaped body, in Node.
//
//   cargo xtask gen-body target/bench/body-10m.prom   (once)
//   pulse-wasm/scripts/build.sh                        (once)
//   node pulse-wasm/bench/parse-bench.mjs [body] [--runs N] [--rounds R] [--ascii]
//
// --ascii replaces every non-ASCII character of the body with `?` first (most
// real bodies are ASCII; JS strings of them cross into wasm faster).
//
// Each case runs alone in a fresh Node process (`--case K`), so one parser's
// heap (the npm parser leaves millions of objects) and its garbage collector
// never run inside another's timing; every timed run follows a full
// collection. Rounds start the cases in turn, so a slow spell of a shared
// machine slows every case of that round rather than all runs of one. Prints
// each case's median (over rounds of per-process medians), MB/s and the
// speed-up ratios. Goals: full parse into JS objects at least 3x faster,
// family totals at least 20x.
import { createRequire } from "node:module";
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { spawnSync } from "node:child_process";

const root = fileURLToPath(new URL("../../", import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const runs = option("--runs", 7);
const rounds = option("--rounds", 5);
const caseIndex = option("--case", -1);
const ascii = args.includes("--ascii");
const valued = new Set(["--runs", "--rounds", "--case"]);
const bodyPath = args.find((a, i) => !a.startsWith("--") && !valued.has(args[i - 1]))
  ?? join(root, "target", "bench", "body-10m.prom");
if (!existsSync(bodyPath)) {
  console.error(`${bodyPath} is missing: run cargo xtask gen-body ${bodyPath}`);
  process.exit(1);
}

const PPT_PARSE = "parse-prometheus-text-format: full parse";
const PPT_TOTALS = "parse-prometheus-text-format: family totals";
const names = [
  PPT_PARSE,
  PPT_TOTALS,
  "pulse-wasm parse(string)",
  "pulse-wasm parseBytes(Uint8Array)",
  "pulse-wasm familyTotals(string)",
  "pulse-wasm familyTotalsBytes(Uint8Array)",
  "pulse-wasm sampleTotals(string)",
  "pulse-wasm sampleTotalsBytes(Uint8Array)",
];

if (caseIndex >= 0) {
  child(caseIndex);
} else {
  parent();
}

// One case in this process: prints `{ ms, count }` as JSON.
function child(k) {
  let bytes = readFileSync(bodyPath);
  let text = bytes.toString("utf8");
  if (ascii) {
    // Decoded again from bytes, so the string is laid out as one read from a
    // file or a response would be (V8 keeps a replace() result differently).
    bytes = Buffer.from(text.replace(/[^\x00-\x7f]/g, "?"), "utf8");
    text = bytes.toString("utf8");
  }
  const pulse = createRequire(import.meta.url)(join(root, "pulse-wasm", "pkg-node", "pulse_wasm.js"));
  const requireWeb = createRequire(join(root, "web", "package.json"));
  const pptModule = requireWeb("parse-prometheus-text-format");
  const ppt = pptModule.default ?? pptModule;

  // What a JS developer does with the npm parser to get per-family totals.
  const pptFamilyTotals = (body) => {
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
  };
  const fns = [
    () => ppt(text),
    () => pptFamilyTotals(text),
    () => pulse.parse(text),
    () => pulse.parseBytes(bytes),
    () => pulse.familyTotals(text),
    () => pulse.familyTotalsBytes(bytes),
    () => pulse.sampleTotals(text),
    () => pulse.sampleTotalsBytes(bytes),
  ];
  const fn = fns[k];
  let out = fn(); // warm-up (and JIT)
  // What each parser found, so the parent can check they read the same body.
  const count = Array.isArray(out) ? out.length : out.families?.length ?? Object.keys(out).length;
  const times = [];
  for (let i = 0; i < runs; i++) {
    out = undefined;
    globalThis.gc();
    const t0 = performance.now();
    out = fn();
    times.push(performance.now() - t0);
  }
  console.log(JSON.stringify({ ms: median(times), count }));
}

function parent() {
  const mb = readFileSync(bodyPath).length / 1e6;
  const perRound = names.map(() => []);
  const counts = [];
  for (let r = 0; r < rounds; r++) {
    names.forEach((_, k) => {
      const res = spawnSync(
        process.execPath,
        [
          "--expose-gc",
          fileURLToPath(import.meta.url),
          bodyPath,
          ...(ascii ? ["--ascii"] : []),
          ...["--case", String(k), "--runs", String(runs)],
        ],
        { encoding: "utf8", maxBuffer: 1 << 20 },
      );
      if (res.status !== 0) {
        console.error(res.stderr);
        process.exit(1);
      }
      const { ms, count } = JSON.parse(res.stdout.trim().split("\n").pop());
      perRound[k].push(ms);
      counts[k] = count;
    });
  }
  const rows = names.map((name, k) => {
    const ms = median(perRound[k]);
    return { name, ms, mbs: mb / (ms / 1000) };
  });
  console.log(
    `body: ${bodyPath}${ascii ? " as ASCII" : ""} (${mb.toFixed(2)} MB; families: npm parser ${counts[0]}, pulse-wasm ${counts[2]}), ` +
      `median of ${rounds} rounds x ${runs} runs, each case in its own process`,
  );
  for (const r of rows) {
    console.log(`${r.name.padEnd(48)} ${r.ms.toFixed(1).padStart(8)} ms ${r.mbs.toFixed(0).padStart(6)} MB/s`);
  }
  const get = (name) => rows.find((r) => r.name === name).ms;
  const ratio = (base, name) => (get(base) / get(name)).toFixed(1);
  console.log(
    `full parse speed-up: ${ratio(PPT_PARSE, "pulse-wasm parse(string)")}x (string), ` +
      `${ratio(PPT_PARSE, "pulse-wasm parseBytes(Uint8Array)")}x (bytes); goal 3x`,
  );
  console.log(
    `family totals speed-up: ${ratio(PPT_TOTALS, "pulse-wasm familyTotals(string)")}x (string), ` +
      `${ratio(PPT_TOTALS, "pulse-wasm familyTotalsBytes(Uint8Array)")}x (bytes); goal 20x`,
  );
}

function median(xs) {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}
