// The latency chart: one line per key of one quantile (or the mean) of one
// of LiteLLM's latency histograms, per chart bucket, exactly as
// /api/v1/series?metric=latency_p90 answers it. Quantiles of several keys
// cannot be added up, so nothing here is summed or re-bucketed: the server
// merges the histograms with the core's rules and the page only draws. The
// lines follow the one legend of the other charts (same keys, order and
// colours); keys the legend groups as "other" are left out and said so.
// uPlot is passed in, so the pure helpers also load in Node's tests.

const millis = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const seconds = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** A duration in seconds as people read it: "340 ms", "1.25 s"; "–" for none. */
export function formatSeconds(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return v < 1 ? `${millis.format(v * 1000)} ms` : `${seconds.format(v)} s`;
}

function hasData(values) {
  return values.some((v) => v !== null);
}

/**
 * The lines of the chart, in legend order: the legend's named keys that have
 * an observation in the range, then keys with observations that the legend
 * does not know at all (a histogram keyed by another label, such as the
 * overhead's underlying model), by name. Returns the lines and the number of
 * keys with data left out because the legend groups them as "other".
 */
export function latencyLines(body, legend, colorBook, dimension) {
  const values = new Map(body.series.map((s) => [s.key, s.values]));
  const named = legend.filter((e) => !e.other).map((e) => e.label);
  const grouped = new Set(legend.filter((e) => e.other).flatMap((e) => e.keys));
  const keys = named.filter((k) => values.has(k) && hasData(values.get(k)));
  const known = new Set(named);
  const extra = [...values.keys()]
    .filter((k) => !known.has(k) && !grouped.has(k) && hasData(values.get(k)))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const colors = colorBook.assign(dimension, [...named, ...extra]);
  const lines = [...keys, ...extra].map((key) => ({ label: key, color: colors.get(key), values: values.get(key) }));
  const left = [...grouped].filter((k) => values.has(k) && hasData(values.get(k))).length;
  return { lines, left };
}

/**
 * Draws the lines into the figure's plot with `uPlot` (replacing `old`, a
 * uPlot or null) and returns the new plot. `starts` are the server's bucket
 * starts (ms).
 */
export function drawLatency(uPlot, figure, old, starts, lines, { zone, labelFormat }) {
  const plotEl = figure.querySelector(".plot");
  const xs = starts.map((t) => t / 1000);
  const few = starts.length <= 31;
  const series = [{}];
  const columns = [xs];
  for (const line of lines) {
    series.push({
      label: line.label,
      stroke: line.color,
      width: 2,
      spanGaps: false,
      points: { show: few, size: 5, fill: line.color },
      value: (_u, v) => formatSeconds(v),
    });
    columns.push(line.values);
  }
  const width = Math.max(260, plotEl.clientWidth || figure.clientWidth || 600);
  const opts = {
    width,
    height: 220,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [
      { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.15)" } },
      {
        stroke: "currentColor",
        grid: { stroke: "rgba(128,128,128,0.15)" },
        size: 72,
        values: (_u, ticks) => ticks.map(formatSeconds),
      },
    ],
    legend: { live: true },
    cursor: { points: { show: true } },
    series,
  };
  if (old) old.destroy();
  plotEl.replaceChildren();
  const plot = new uPlot(opts, columns, plotEl);
  const fmt = new Intl.DateTimeFormat(undefined, { timeZone: zone, ...labelFormat });
  const n = starts.length;
  const span = n > 0 ? `${n} buckets from ${fmt.format(new Date(starts[0]))} to ${fmt.format(new Date(starts[n - 1]))}` : "no buckets";
  const worst = (vals) => vals.reduce((m, v) => (v !== null && v > m ? v : m), -Infinity);
  plotEl.setAttribute(
    "aria-label",
    `${figure.querySelector("#latency-title").textContent}: ${span}; highest bucket per line: ${lines.map((l) => `${l.label} ${formatSeconds(worst(l.values))}`).join(", ")}.`,
  );
  return plot;
}
