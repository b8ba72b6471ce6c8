// Buckets 90 days of 60-second points (129,600) into local days and hours
// with pulse-wasm and draws them with uPlot; reports the median times.
import init, * as pulse from "./pkg/pulse_wasm.js";
import uPlot from "./vendor/uPlot.esm.js";

const ZONE = "Europe/Berlin";
const N = 90 * 24 * 60;
const end = Date.UTC(2025, 5, 1);
const start = end - N * 60_000;
const timestamps = new Float64Array(N);
const values = new Float64Array(N);
for (let i = 0; i < N; i++) {
  timestamps[i] = start + i * 60_000;
  values[i] = ((i * 7919) % 1000) / 10000;
}

const frame = () => new Promise((r) => requestAnimationFrame(() => r()));

async function once(step) {
  const el = document.getElementById("plot");
  el.replaceChildren();
  const t0 = performance.now();
  const b = pulse.bucketize(timestamps, values, start, end, ZONE, step);
  const t1 = performance.now();
  const plot = new uPlot(
    {
      width: 1000,
      height: 300,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), ZONE),
      series: [{}, { label: "cost", fill: "#4e79a7", paths: uPlot.paths.bars({ size: [0.9, 64], align: 1 }) }],
    },
    [Array.from(b.starts, (t) => t / 1000), Array.from(b.values)],
    el,
  );
  await frame();
  const t2 = performance.now();
  plot.destroy();
  return { bucketize: t1 - t0, draw: t2 - t1, total: t2 - t0, buckets: b.starts.length };
}

async function run() {
  await init();
  const results = {};
  for (const step of ["day", "hour"]) {
    await once(step);
    const runs = [];
    for (let i = 0; i < 9; i++) runs.push(await once(step));
    const median = (k) => runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
    results[step] = {
      points: N,
      buckets: runs[0].buckets,
      bucketizeMs: median("bucketize"),
      drawMs: median("draw"),
      totalMs: median("total"),
    };
  }
  document.getElementById("out").textContent = JSON.stringify(results);
  window.benchResults = results;
}

run().catch((e) => {
  window.benchError = String(e);
});
