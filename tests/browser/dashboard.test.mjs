// The dashboard in real headless Chromium against the release binary:
// demo mode for the numbers and charts, a fake LiteLLM for hostile labels.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  artifacts,
  dashboardOrigin,
  ensureDist,
  fakeLiteLLM,
  launch,
  pulse,
  startPulse,
  tempDir,
  watch,
} from "./support.mjs";

// A server zone with a 45-minute offset and a browser zone with DST, so
// daily buckets differ between them.
const SERVER_ZONE = "Asia/Kathmandu";
const BROWSER_ZONE = "America/New_York";
const WINDOW_FIELDS = { today: "_daily", week: "_weekly", month: "_monthly", all_time: "" };
const CARD_FIELDS = ["cost", "tokens", "requests", "failed_requests", "input_cached_pct"];

let server;
let origin;
let context;

before(async () => {
  ensureDist();
  mkdirSync(artifacts, { recursive: true });
  server = await startPulse(["demo", "--port", "0", "--timezone", SERVER_ZONE]);
  origin = await dashboardOrigin(server.url);
  if (!origin.embedded) {
    console.log("# the binary does not embed web/dist yet: serving it beside the binary's API");
  }
  context = await launch(BROWSER_ZONE);
});

after(async () => {
  await context?.close();
  await origin?.close();
  await server?.stop();
});

async function apiMetrics() {
  return fetch(new URL("api/v1/metrics", server.url)).then((r) => r.json());
}

function cardFields(m) {
  const out = {};
  for (const [w, suffix] of Object.entries(WINDOW_FIELDS)) {
    for (const f of CARD_FIELDS) out[`${w}.${f}`] = m[`${f}${suffix}`];
  }
  return out;
}

async function openDashboard(width, height) {
  const page = await context.newPage();
  await page.setViewportSize({ width, height });
  const problems = watch(page);
  await page.goto(origin.url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
  return { page, problems };
}

async function pageCards(page) {
  return page.$$eval("#cards tbody tr", (rows) => {
    const out = {};
    for (const tr of rows) {
      for (const td of tr.querySelectorAll("td[data-metric]")) {
        out[`${tr.dataset.window}.${td.dataset.metric}`] = Number(td.dataset.value);
      }
    }
    return out;
  });
}

test("the demo dashboard loads cleanly, draws every chart and its cards equal /api/v1/metrics", async () => {
  const { page, problems } = await openDashboard(1280, 900);
  for (const metric of ["cost", "tokens", "requests"]) {
    const fig = page.locator(`#chart-${metric}`);
    assert.ok(Number(await fig.getAttribute("data-buckets")) >= 24, `${metric} buckets`);
    assert.ok(Number(await fig.getAttribute("data-keys")) >= 2, `${metric} keys`);
    assert.ok(Number(await fig.getAttribute("data-total")) > 0, `${metric} total`);
    // The canvas has coloured pixels: the bars were drawn.
    const painted = await fig.locator("canvas").evaluate((c) => {
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
      return n;
    });
    assert.ok(painted > 1000, `${metric} chart painted ${painted} pixels`);
  }
  // The demo scrapes every 5 s: compare when no scrape landed between two reads.
  let matched = false;
  for (let attempt = 0; attempt < 10 && !matched; attempt++) {
    const before = cardFields(await apiMetrics());
    await page.reload();
    await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
    const cards = await pageCards(page);
    const afterRead = cardFields(await apiMetrics());
    if (JSON.stringify(before) !== JSON.stringify(afterRead)) continue;
    matched = true;
    const shown = {};
    for (const k of Object.keys(before)) shown[k] = cards[k];
    assert.deepStrictEqual(shown, before);
    assert.ok(before["today.requests"] > 0 && before["month.cost"] > 0);
  }
  assert.ok(matched, "found a quiet moment between two scrapes");
  assert.equal(await page.locator("#health").getAttribute("data-state"), "ok");
  await page.screenshot({ path: join(artifacts, "dashboard-desktop.png"), fullPage: true });
  assert.deepStrictEqual(problems, []);
  await page.close();
});

test("switching to the browser's zone re-buckets the days as the core says", async () => {
  const { page, problems } = await openDashboard(1280, 900);
  assert.equal(await page.locator("#zone").inputValue(), SERVER_ZONE);
  await page.locator("label[for=range-30d]").click();
  const fig = page.locator("#chart-cost");
  await assert.doesNotReject(page.waitForFunction(() => document.querySelector("#chart-cost").dataset.range === "30d"));
  const server = JSON.parse(await fig.getAttribute("data-starts"));
  await page.locator("#zone").selectOption(BROWSER_ZONE);
  await page.waitForFunction((z) => document.querySelector("#chart-cost").dataset.zone === z, BROWSER_ZONE);
  const browser = JSON.parse(await fig.getAttribute("data-starts"));
  const now = Number(await fig.getAttribute("data-now"));
  for (const [zone, starts] of [[SERVER_ZONE, server], [BROWSER_ZONE, browser]]) {
    const r = pulse.windowRange("30d", now, zone);
    assert.deepStrictEqual(starts, Array.from(pulse.bucketEdges(r.startMs, r.endMs, zone, "day")), zone);
    for (const t of starts) assert.equal(pulse.bucketStart(t, zone, "day"), t);
  }
  // Kathmandu midnight is 18:15 UTC, New York's 04:00 or 05:00 UTC.
  assert.equal(((server[1] % 86_400_000) + 86_400_000) % 86_400_000, 18.25 * 3_600_000);
  assert.ok([4, 5].includes((browser[1] % 86_400_000) / 3_600_000));
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(artifacts, "dashboard-phone.png"), fullPage: true });
  assert.deepStrictEqual(problems, []);
  await page.close();
});

test("a model named <img src=x onerror=alert(1)> is shown as text", async () => {
  const hostile = "<img src=x onerror=alert(1)>";
  const fake = await fakeLiteLLM(hostile);
  const dir = tempDir();
  const pulseXss = await startPulse(
    ["--port", "0", "--timezone", "UTC", "--scrape-interval", "1"],
    {
      LITELLM_PULSE_METRICS_URL: fake.url,
      LITELLM_PULSE_DB_PATH: join(dir, "pulse.db"),
    },
  );
  const originXss = await dashboardOrigin(pulseXss.url);
  try {
    // Two scrapes make a delta, so the model has spend.
    while (fake.scrapes() < 3) await new Promise((r) => setTimeout(r, 200));
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(originXss.url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
    const names = await page.$$eval("#models tbody th", (ths) => ths.map((t) => t.textContent));
    assert.ok(names.includes(hostile), `models table shows ${JSON.stringify(names)}`);
    assert.equal(await page.locator("main img").count(), 0);
    const legend = await page.locator("#chart-cost .u-legend").textContent();
    assert.ok(legend.includes(hostile));
    assert.deepStrictEqual(problems, []);
    await page.close();
  } finally {
    await originXss.close();
    await pulseXss.stop();
    await fake.close();
  }
});
