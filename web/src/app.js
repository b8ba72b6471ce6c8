// The LiteLLM Pulse dashboard.
//
// Every window boundary, bucket and sum is computed here by pulse-wasm (the
// same Rust core the server runs) from the server's raw 15-minute bucket
// points, so switching the zone re-buckets in the browser and the numbers
// equal the server API's for the same zone. Labels are always set with
// textContent, never parsed as HTML.
import init, * as pulse from "./pkg/pulse_wasm.js";
import uPlot from "./vendor/uPlot.esm.js";

const REFRESH_MS = 60_000;
const DAY_MS = 86_400_000;
// The API returns at most 5,000 points per request: 30 days of 15-minute buckets fit.
const CHUNK_MS = 30 * DAY_MS;
const HISTORY_MS = 91 * DAY_MS;
const CARDS_MS = 32 * DAY_MS;
const MAX_KEYS = 8;
const CARD_METRICS = [
  "cost",
  "tokens",
  "requests",
  "failed_requests",
  "cache_hits",
  "cache_misses",
  "input_cached_tokens",
  "input_tokens",
];
const CHART_METRICS = ["cost", "tokens", "requests"];
const RANGES = {
  "24h": { window: "24h", step: "hour" },
  "7d": { window: "7d", step: "hour" },
  "30d": { window: "30d", step: "day" },
  "90d": { window: "90d", step: "day" },
};
const WINDOWS = [
  { id: "today", label: "Today" },
  { id: "week", label: "This week" },
  { id: "month", label: "This month" },
];
const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
];

// The API sits beside the page, also when the page is served at /dashboard/.
const apiBase = new URL(location.pathname.endsWith("/dashboard/") ? "../" : "./", location.href);

const state = {
  serverZone: null,
  zone: null,
  range: "24h",
  dimension: "model",
  // "metric|dimension" -> Map(key -> Map(bucketStartMs -> value))
  series: new Map(),
  loaded: new Set(),
  summary: null,
  models: [],
  health: null,
  plots: new Map(),
};

const $ = (sel) => document.querySelector(sel);

/** GET a JSON document of the API; throws with the server's message. */
async function api(path, params = {}) {
  const url = new URL(path, apiBase);
  for (const [k, v] of Object.entries(params)) {
    url.searchParams.set(k, String(v));
  }
  const resp = await fetch(url, { headers: { accept: "application/json" } });
  const body = await resp.json().catch(() => null);
  if (!resp.ok) {
    throw new Error(body?.error ?? `${url.pathname}: HTTP ${resp.status}`);
  }
  return body;
}

/** Fetches the 15-minute bucket points of `metric` (by `dimension` or total) and merges them. */
async function loadSeries(metric, dimension, fromMs, toMs) {
  const id = `${metric}|${dimension}`;
  let byKey = state.series.get(id);
  if (!byKey) {
    byKey = new Map();
    state.series.set(id, byKey);
  }
  const start = pulse.storageBucket(fromMs);
  const chunks = [];
  for (let from = start; from < toMs; from += CHUNK_MS) {
    chunks.push([from, Math.min(from + CHUNK_MS, toMs)]);
  }
  const bodies = await Promise.all(
    chunks.map(([from, to]) =>
      api("api/v1/series", {
        metric,
        step: "15m",
        from,
        to,
        ...(dimension === "total" ? {} : { by: dimension }),
      }),
    ),
  );
  for (const body of bodies) {
    state.serverZone ??= body.tz;
    for (const s of body.series) {
      let points = byKey.get(s.key);
      if (!points) {
        points = new Map();
        byKey.set(s.key, points);
      }
      body.t.forEach((t, i) => {
        const v = s.values[i] ?? 0;
        if (v !== 0 || points.has(t)) {
          points.set(t, v);
        }
      });
    }
  }
}

/** The points of one key as parallel typed arrays, sorted by time. */
function arrays(points) {
  const ts = [...points.keys()].sort((a, b) => a - b);
  const timestamps = new Float64Array(ts);
  const values = new Float64Array(ts.length);
  ts.forEach((t, i) => {
    values[i] = points.get(t);
  });
  return { timestamps, values };
}

function totalPoints(metric) {
  const byKey = state.series.get(`${metric}|total`);
  return arrays(byKey?.get("total") ?? new Map());
}

function windowSum(points, windowId, now) {
  return pulse.windowSum(points.timestamps, points.values, windowId, now, state.zone);
}

const money = new Intl.NumberFormat(undefined, {
  style: "currency",
  currency: "USD",
  minimumFractionDigits: 2,
  maximumFractionDigits: 4,
});
const count = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const pct = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

function formatValue(metric, v) {
  if (metric === "cost") return money.format(v);
  return count.format(v);
}

function cell(tag, text, attrs = {}) {
  const el = document.createElement(tag);
  el.textContent = text;
  for (const [k, v] of Object.entries(attrs)) {
    el.setAttribute(k, v);
  }
  return el;
}

/** One row of card values: per metric its sum, plus the two cache rates. */
function cardRow(get) {
  return {
    cost: get("cost"),
    tokens: get("tokens"),
    requests: get("requests"),
    failed_requests: get("failed_requests"),
    cache_hit_pct: pulse.clean(pulse.cacheHitPct(get("cache_hits"), get("cache_misses"))),
    input_cached_pct: pulse.clean(pulse.inputCachedPct(get("input_cached_tokens"), get("input_tokens"))),
  };
}

function renderCards(now) {
  const tbody = $("#cards tbody");
  const rows = [];
  const points = Object.fromEntries(CARD_METRICS.map((m) => [m, totalPoints(m)]));
  for (const w of WINDOWS) {
    rows.push({ id: w.id, label: w.label, ...cardRow((m) => windowSum(points[m], w.id, now)) });
  }
  const s = state.summary;
  if (s) {
    rows.push({ id: "all_time", label: "All time", ...cardRow((m) => s[m] ?? 0) });
  }
  const trs = rows.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.window = r.id;
    tr.append(
      cell("th", r.label, { scope: "row" }),
      cell("td", money.format(r.cost), { "data-metric": "cost", "data-value": String(r.cost) }),
      cell("td", count.format(r.tokens), { "data-metric": "tokens", "data-value": String(r.tokens) }),
      cell("td", count.format(r.requests), { "data-metric": "requests", "data-value": String(r.requests) }),
      cell("td", count.format(r.failed_requests), {
        "data-metric": "failed_requests",
        "data-value": String(r.failed_requests),
      }),
      cell("td", `${pct.format(r.cache_hit_pct)} %`, {
        "data-metric": "cache_hit_pct",
        "data-value": String(r.cache_hit_pct),
      }),
      cell("td", `${pct.format(r.input_cached_pct)} %`, {
        "data-metric": "input_cached_pct",
        "data-value": String(r.input_cached_pct),
      }),
    );
    return tr;
  });
  tbody.replaceChildren(...trs);
}

/** Buckets every key of `metric|dimension` over the selected range, biggest keys first. */
function chartData(metric, now) {
  const { window, step } = RANGES[state.range];
  const range = pulse.windowRange(window, now, state.zone);
  const byKey = state.series.get(`${metric}|${state.dimension}`) ?? new Map();
  let starts = null;
  const keyed = [];
  for (const [key, points] of byKey) {
    const a = arrays(points);
    const b = pulse.bucketize(a.timestamps, a.values, range.startMs, range.endMs, state.zone, step);
    starts ??= b.starts;
    let total = 0;
    for (const v of b.values) total += v;
    keyed.push({ key, values: b.values, total });
  }
  if (!starts) {
    starts = new Float64Array(pulse.bucketEdges(range.startMs, range.endMs, state.zone, step));
  }
  keyed.sort((a, b) => b.total - a.total || (a.key < b.key ? -1 : 1));
  const shown = keyed.filter((k) => k.total > 0).slice(0, MAX_KEYS);
  const rest = keyed.filter((k) => k.total > 0).slice(MAX_KEYS);
  if (rest.length > 0) {
    const other = new Float64Array(starts.length);
    for (const k of rest) {
      k.values.forEach((v, i) => {
        other[i] += v;
      });
    }
    shown.push({ key: `other (${rest.length})`, values: other, total: rest.reduce((n, k) => n + k.total, 0) });
  }
  return { starts, keys: shown, step };
}

/** A stable colour per key, the same in every chart: keys in name order take the palette in turn. */
function colorOf(key) {
  const byKey = state.series.get(`cost|${state.dimension}`) ?? new Map();
  const names = [...byKey.keys()].sort();
  const i = names.indexOf(key);
  return PALETTE[(i < 0 ? names.length : i) % PALETTE.length];
}

/** Draws one stacked bar chart. Series are cumulative and drawn top-down, so each band shows one key. */
function drawChart(figure, metric, data) {
  const plotEl = figure.querySelector(".plot");
  const n = data.starts.length;
  const xs = Array.from(data.starts, (t) => t / 1000);
  const cumulative = [];
  const running = new Float64Array(n);
  for (const k of data.keys) {
    k.values.forEach((v, i) => {
      running[i] += v;
    });
    cumulative.push(Float64Array.from(running));
  }
  // uPlot draws in order: the tallest (the sum of all keys) first.
  const order = data.keys.map((_, i) => data.keys.length - 1 - i);
  const series = [{}];
  const columns = [xs];
  for (const i of order) {
    const k = data.keys[i];
    const raw = k.values;
    series.push({
      label: k.key,
      stroke: colorOf(k.key),
      fill: colorOf(k.key),
      width: 0,
      paths: uPlot.paths.bars({ size: [0.9, 64], align: 1 }),
      points: { show: false },
      value: (_u, _v, _si, idx) => (idx == null ? "" : formatValue(metric, raw[idx])),
    });
    columns.push(Array.from(cumulative[i]));
  }
  const width = Math.max(280, plotEl.clientWidth || figure.clientWidth || 600);
  const fmt = new Intl.DateTimeFormat(undefined, {
    timeZone: state.zone,
    month: "short",
    day: "numeric",
    ...(data.step === "hour" ? { hour: "2-digit", minute: "2-digit" } : {}),
  });
  const opts = {
    width,
    height: 220,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), state.zone),
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] } },
    axes: [
      { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.15)" } },
      {
        stroke: "currentColor",
        grid: { stroke: "rgba(128,128,128,0.15)" },
        size: 64,
        values: (_u, ticks) => ticks.map((v) => (metric === "cost" ? money.format(v) : count.format(v))),
      },
    ],
    legend: { live: true },
    cursor: { points: { show: false } },
    series,
  };
  const old = state.plots.get(metric);
  if (old) old.destroy();
  plotEl.replaceChildren();
  const plot = new uPlot(opts, columns, plotEl);
  state.plots.set(metric, plot);
  let sum = 0;
  for (const k of data.keys) sum += k.total;
  sum = pulse.clean(sum);
  const first = n > 0 ? fmt.format(new Date(data.starts[0])) : "";
  const last = n > 0 ? fmt.format(new Date(data.starts[n - 1])) : "";
  plotEl.setAttribute(
    "aria-label",
    `${figure.querySelector("figcaption").textContent}: ${formatValue(metric, sum)} in ${n} buckets from ${first} to ${last}, stacked by ${state.dimension}: ${data.keys.map((k) => `${k.key} ${formatValue(metric, pulse.clean(k.total))}`).join(", ") || "no data"}.`,
  );
  figure.dataset.buckets = String(n);
  figure.dataset.keys = String(data.keys.length);
  figure.dataset.total = String(sum);
  figure.dataset.starts = JSON.stringify(Array.from(data.starts));
  figure.dataset.zone = state.zone;
  figure.dataset.range = state.range;
}

function renderCharts(now) {
  for (const metric of CHART_METRICS) {
    const figure = $(`#chart-${metric}`);
    drawChart(figure, metric, chartData(metric, now));
    figure.dataset.now = String(now);
  }
}

function renderModels(now) {
  const byModel = state.series.get("cost|model") ?? new Map();
  const allTime = new Map(state.models.map((m) => [m.model, m]));
  const names = new Set([...allTime.keys(), ...byModel.keys()]);
  const rows = [...names].map((name) => {
    const points = arrays(byModel.get(name) ?? new Map());
    const m = allTime.get(name) ?? {};
    return {
      name,
      today: windowSum(points, "today", now),
      month: windowSum(points, "month", now),
      cost: m.cost ?? 0,
      requests: m.requests ?? 0,
      tokens: m.tokens ?? 0,
    };
  });
  rows.sort((a, b) => b.cost - a.cost || (a.name < b.name ? -1 : 1));
  const trs = rows.map((r) => {
    const tr = document.createElement("tr");
    tr.append(
      cell("th", r.name, { scope: "row" }),
      cell("td", money.format(r.today)),
      cell("td", money.format(r.month)),
      cell("td", money.format(r.cost)),
      cell("td", count.format(r.requests)),
      cell("td", count.format(r.tokens)),
    );
    return tr;
  });
  if (trs.length === 0) {
    const tr = document.createElement("tr");
    tr.append(cell("td", "No model has been seen yet.", { colspan: "6" }));
    trs.push(tr);
  }
  $("#models tbody").replaceChildren(...trs);
}

function renderHealth(now) {
  const section = $("#health");
  const text = $("#health-text");
  const errorEl = $("#health-error");
  const s = state.summary;
  const lastIso = s?.last_scrape ?? null;
  const lastMs = lastIso ? Date.parse(lastIso) : null;
  const error = s?.error ?? state.health?.error ?? null;
  let status = state.health?.status ?? "starting";
  // The server applies the core's freshness rule (the one /readyz uses).
  if (status === "ok" && state.health?.fresh === false) {
    status = "stale";
  }
  section.dataset.state = status;
  const when = lastMs === null ? "never" : pulse.formatTimestamp(lastMs, state.zone);
  const words = { ok: "Scraping normally", starting: "Waiting for the first scrape", degraded: "Scrape failing", stale: "Stale" };
  text.textContent = `${words[status] ?? status} · last successful scrape: ${when}`;
  errorEl.hidden = !error;
  errorEl.textContent = error ? `Error: ${error}` : "";
}

function render() {
  const now = Date.now();
  renderHealth(now);
  renderCards(now);
  renderCharts(now);
  renderModels(now);
  document.body.dataset.ready = "true";
}

function showError(err) {
  const errorEl = $("#health-error");
  errorEl.hidden = false;
  errorEl.textContent = `Could not load data: ${err.message}`;
  $("#health").dataset.state = "degraded";
}

async function loadDimension(dimension, fromMs, toMs) {
  await Promise.all(CHART_METRICS.map((m) => loadSeries(m, dimension, fromMs, toMs)));
  state.loaded.add(dimension);
}

/** Loads everything once: 32 days of totals for the cards, 91 days per chart metric. */
async function loadAll() {
  const now = Date.now();
  const [summary, models, health] = await Promise.all([
    api("api/v1/metrics"),
    api("api/v1/models"),
    api("health"),
    ...CARD_METRICS.map((m) => loadSeries(m, "total", now - CARDS_MS, now + 1)),
    loadDimension(state.dimension, now - HISTORY_MS, now + 1),
  ]);
  state.summary = summary;
  state.models = models.models ?? [];
  state.health = health;
}

/** Refreshes the summaries and the last two hours of every loaded series. */
async function refresh() {
  const now = Date.now();
  const from = now - 2 * 3_600_000;
  const [summary, models, health] = await Promise.all([
    api("api/v1/metrics"),
    api("api/v1/models"),
    api("health"),
    ...CARD_METRICS.map((m) => loadSeries(m, "total", from, now + 1)),
    ...[...state.loaded].map((d) => loadDimension(d, from, now + 1)),
  ]);
  state.summary = summary;
  state.models = models.models ?? [];
  state.health = health;
}

function fillZones() {
  const select = $("#zone");
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zones = [
    { value: state.serverZone, label: `${state.serverZone} (server)` },
    { value: browserZone, label: `${browserZone} (this browser)` },
    { value: "UTC", label: "UTC" },
  ].filter((z, i, all) => z.value && pulse.isValidZone(z.value) && all.findIndex((o) => o.value === z.value) === i);
  select.replaceChildren(
    ...zones.map((z) => {
      const o = document.createElement("option");
      o.value = z.value;
      o.textContent = z.label;
      return o;
    }),
  );
  select.value = state.zone;
}

function wireControls() {
  $("#zone").addEventListener("change", (e) => {
    state.zone = e.target.value;
    render();
  });
  for (const input of document.querySelectorAll("input[name=range]")) {
    input.addEventListener("change", (e) => {
      state.range = e.target.value;
      renderCharts(Date.now());
    });
  }
  $("#dimension").addEventListener("change", async (e) => {
    state.dimension = e.target.value;
    if (!state.loaded.has(state.dimension)) {
      const now = Date.now();
      try {
        await loadDimension(state.dimension, now - HISTORY_MS, now + 1);
      } catch (err) {
        showError(err);
        return;
      }
    }
    renderCharts(Date.now());
  });
  let width = window.innerWidth;
  window.addEventListener("resize", () => {
    if (Math.abs(window.innerWidth - width) > 40) {
      width = window.innerWidth;
      renderCharts(Date.now());
    }
  });
}

async function main() {
  await init();
  try {
    await loadAll();
  } catch (err) {
    showError(err);
    return;
  }
  state.serverZone ??= "UTC";
  state.zone = state.serverZone;
  fillZones();
  wireControls();
  render();
  setInterval(async () => {
    if (document.hidden) return;
    try {
      await refresh();
      render();
    } catch (err) {
      showError(err);
    }
  }, REFRESH_MS);
}

main();
