// The budgets section in real headless Chromium against the release binary:
// a fake LiteLLM whose spend stops at $0.75, a config file with two budgets
// (one named like an HTML tag, one already over its limit so alerts exist),
// two webhook channels (one answering 200, one 500) and LiteLLM's own budget
// gauges. The page's bars, ticks, forecast markers and alerts are checked
// against /api/v1/budgets and /api/v1/alerts at desktop and phone widths.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
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
  webhookReceiver,
} from "./support.mjs";

const SERVER_ZONE = "Asia/Kathmandu";
const BROWSER_ZONE = "America/New_York";
const HOSTILE = "<img src=x onerror=alert(1)>";
// Spend grows by $0.25 a scrape for 4 scrapes: $0.75 once the counters stop.
const SPENT = 0.75;
const LITELLM_GAUGES = [
  "# TYPE litellm_remaining_team_budget_metric gauge",
  'litellm_remaining_team_budget_metric{team="t-1",team_alias="research"} 7.5',
  "# TYPE litellm_team_max_budget_metric gauge",
  'litellm_team_max_budget_metric{team="t-1",team_alias="research"} 10',
  "# TYPE litellm_team_budget_remaining_hours_metric gauge",
  'litellm_team_budget_remaining_hours_metric{team="t-1",team_alias="research"} 36.5',
  "# TYPE litellm_remaining_api_key_budget_metric gauge",
  'litellm_remaining_api_key_budget_metric{hashed_api_key="abc",api_key_alias="k1"} +Inf',
];

let fake;
let hook;
let pager;
let server;
let origin;
let context;

function config() {
  return [
    "[[budget]]",
    `name = ${JSON.stringify(HOSTILE)}`,
    "limit = 5",
    // One threshold above 100 %: the bar runs to 120 % with a limit line.
    "thresholds = [10, 50, 75, 120]",
    "",
    "[[budget]]",
    'name = "team spend"',
    "limit = 0.5",
    'period = "week"',
    "",
    "[[channel]]",
    'name = "hook"',
    'type = "webhook"',
    `url = "${hook.url}"`,
    "",
    "[[channel]]",
    'name = "pager"',
    'type = "webhook"',
    `url = "${pager.url}"`,
    "",
  ].join("\n");
}

async function json(path) {
  const resp = await fetch(new URL(path, server.url));
  assert.equal(resp.status, 200, path);
  return resp.json();
}

async function waitFor(what, check, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not within ${seconds} s: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  ensureDist();
  mkdirSync(artifacts, { recursive: true });
  fake = await fakeLiteLLM("gpt-4o", { growFor: 4, extra: LITELLM_GAUGES });
  hook = await webhookReceiver(200);
  pager = await webhookReceiver(500);
  const dir = tempDir();
  const file = join(dir, "pulse.toml");
  writeFileSync(file, config());
  server = await startPulse(["--port", "0", "--timezone", SERVER_ZONE, "--scrape-interval", "1"], {
    LITELLM_PULSE_METRICS_URL: fake.url,
    LITELLM_PULSE_DB_PATH: join(dir, "pulse.db"),
    LITELLM_PULSE_CONFIG: file,
  });
  origin = await dashboardOrigin(server.url);
  // The spend has stopped at $0.75 and every alert reached the channel that answers 200.
  await waitFor("the spend stops at $0.75", async () => {
    const b = await json("api/v1/budgets");
    return fake.scrapes() > 5 && b.budgets.every((x) => x.spent === SPENT);
  });
  await waitFor("every alert delivered to hook", async () => {
    const a = await json("api/v1/alerts");
    return (
      a.alerts.some((x) => x.subject === HOSTILE) &&
      a.alerts.every((x) => x.deliveries.find((d) => d.channel === "hook")?.state === "delivered")
    );
  });
  context = await launch(BROWSER_ZONE);
});

after(async () => {
  await context?.close();
  await origin?.close();
  await server?.stop();
  await fake?.close();
  await hook?.close();
  await pager?.close();
});

async function openDashboard(width, height) {
  const page = await context.newPage();
  await page.setViewportSize({ width, height });
  const problems = watch(page);
  await page.goto(origin.url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
  return { page, problems };
}

/** What the page shows per budget: texts, aria values, tick and marker positions in % of the track. */
async function pageBudgets(page) {
  return page.$$eval("#budget-list > li", (lis) =>
    lis.map((li) => {
      const bar = li.querySelector("[role=meter]");
      const track = li.querySelector(".track").getBoundingClientRect();
      const at = (el) => {
        const r = el.getBoundingClientRect();
        return ((r.left + r.width / 2 - track.left) / track.width) * 100;
      };
      const marker = li.querySelector(".forecast");
      return {
        name: li.querySelector(".budget-name").textContent,
        state: li.dataset.state,
        stateText: li.querySelector('[data-field="state"]').textContent,
        percentText: li.querySelector('[data-field="percent"]').textContent,
        amountText: li.querySelector('[data-field="amount"]').textContent,
        forecastText: li.querySelector('[data-field="forecast"]').textContent,
        periodText: li.querySelector('[data-field="period"]').textContent,
        aria: {
          min: bar.getAttribute("aria-valuemin"),
          max: bar.getAttribute("aria-valuemax"),
          now: bar.getAttribute("aria-valuenow"),
          text: bar.getAttribute("aria-valuetext"),
          label: document.getElementById(bar.getAttribute("aria-labelledby"))?.textContent,
        },
        fill: (li.querySelector(".fill").getBoundingClientRect().width / track.width) * 100,
        ticks: [...li.querySelectorAll(".tick")].map((t) => ({
          percent: Number(t.dataset.percent),
          reached: t.dataset.reached === "true",
          at: at(t),
        })),
        limitLine: li.querySelector(".limit-line") ? at(li.querySelector(".limit-line")) : null,
        marker: { at: at(marker), beyond: marker.dataset.beyond === "true", clamped: marker.dataset.clamped === "true" },
        forecastPercent: Number(li.dataset.forecastPercent),
        trackRight: track.right,
      };
    }),
  );
}

/** Formats like the page: its locale, one decimal at most. */
function pagePct(page, values) {
  return page.evaluate(
    (vs) => vs.map((v) => new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, signDisplay: "negative" }).format(v)),
    values,
  );
}

function near(a, b, tolerance, what) {
  assert.ok(Math.abs(a - b) <= tolerance, `${what}: ${a} is not within ${tolerance} of ${b}`);
}

/** The checks of the bars against /api/v1/budgets, the same at every width. */
async function checkBars(page) {
  const api = await json("api/v1/budgets");
  const shown = await pageBudgets(page);
  assert.equal(api.budgets.length, 2);
  assert.equal(shown.length, api.budgets.length, "a bar per budget");
  for (const [i, b] of api.budgets.entries()) {
    const s = shown[i];
    const what = JSON.stringify(b.name);
    assert.equal(s.name, b.name, `${what}: the name as text`);
    assert.equal(s.aria.label, b.name, `${what}: the meter is labelled by the name`);
    assert.equal(s.state, b.state, what);
    // The numbers are the API's, to the digit.
    assert.equal(s.aria.min, "0");
    assert.equal(s.aria.now, String(b.spent), `${what}: aria-valuenow`);
    assert.equal(s.aria.max, String(Math.max(b.limit, b.spent)), `${what}: aria-valuemax`);
    const [percent, ...thresholdTexts] = await pagePct(page, [b.percent, ...b.thresholds.map((t) => t.percent)]);
    assert.equal(s.percentText, `${percent} %`, `${what}: percent text`);
    assert.ok(s.aria.text.includes(`(${percent} %)`), `${what}: aria-valuetext ${s.aria.text}`);
    for (const [j, t] of b.thresholds.entries()) {
      if (t.reached) assert.ok(s.aria.text.includes(`${thresholdTexts[j]} %`), `${what}: says ${t.percent} % is reached`);
    }
    assert.ok(s.periodText.includes(`${b.period_start} to ${b.period_end}`), `${what}: period ${s.periodText}`);
    // A tick per threshold, where the threshold lies on the bar (0 .. max(100 %, highest threshold)).
    const scale = Math.max(100, ...b.thresholds.map((t) => t.percent));
    assert.equal(s.ticks.length, b.thresholds.length, `${what}: ticks`);
    for (const [j, t] of b.thresholds.entries()) {
      assert.equal(s.ticks[j].percent, t.percent);
      assert.equal(s.ticks[j].reached, t.reached);
      near(s.ticks[j].at, (t.percent / scale) * 100, 0.6, `${what}: tick ${t.percent} %`);
    }
    near(s.fill, (Math.min(b.percent, scale) / scale) * 100, 0.6, `${what}: fill`);
    if (scale > 100) near(s.limitLine, (100 / scale) * 100, 0.6, `${what}: limit line`);
    else assert.equal(s.limitLine, null);
    // The forecast marker: at the forecast, or at the bar's end when beyond it. The
    // forecast moves with the clock, so the API's and the page's agree closely, not exactly.
    near(s.forecastPercent, b.forecast_percent, Math.max(0.01, b.forecast_percent * 1e-3), `${what}: forecast`);
    near(s.marker.at, (Math.min(s.forecastPercent, scale) / scale) * 100, 0.6, `${what}: forecast marker`);
    assert.equal(s.marker.beyond, b.forecast_percent > 100);
    assert.equal(s.marker.clamped, b.forecast_percent > scale);
    assert.equal(s.forecastText.endsWith(", beyond the limit"), b.forecast_percent > 100, s.forecastText);
  }
  // The two budgets of the config: one warning inside its bar, one over its limit.
  const [hostile, team] = api.budgets;
  assert.equal(hostile.name, HOSTILE);
  assert.equal(hostile.state, "warning");
  assert.ok(hostile.forecast_percent < 120, `the hostile budget's forecast lies on its bar: ${hostile.forecast_percent}`);
  assert.equal(team.state, "over");
  assert.ok(team.forecast_percent > 100);
  assert.equal(shown[1].stateText, "Over the limit");
  return { api, shown };
}

/** The alerts list against /api/v1/alerts: kind, subject, threshold, time in `zone`, deliveries. */
async function checkAlerts(page, zone) {
  const api = await json("api/v1/alerts?limit=20");
  const shown = await page.$$eval("#alerts > li", (lis) =>
    lis.map((li) => ({
      id: Number(li.dataset.id),
      kind: li.dataset.kind,
      time: li.querySelector('[data-field="time"]').textContent,
      subject: li.querySelector('[data-field="subject"]').textContent,
      threshold: li.querySelector('[data-field="threshold"]')?.textContent ?? null,
      deliveries: [...li.querySelectorAll(".deliveries li")].map((d) => [d.dataset.channel, d.dataset.state, d.textContent]),
    })),
  );
  assert.deepStrictEqual(
    shown.map((a) => a.id),
    api.alerts.map((a) => a.id),
    "the latest alerts, newest first",
  );
  for (const [i, a] of api.alerts.entries()) {
    const s = shown[i];
    assert.equal(s.kind, a.kind);
    assert.equal(s.subject, a.subject);
    assert.equal(s.time, pulse.formatTimestamp(Date.parse(a.created_at), zone), `alert ${a.id} time in ${zone}`);
    if (a.threshold === null) assert.equal(s.threshold, null);
    else assert.equal(s.threshold, `${(await pagePct(page, [a.threshold]))[0]} %`);
    assert.deepStrictEqual(
      s.deliveries.map(([c, st]) => [c, st]),
      a.deliveries.map((d) => [d.channel, d.state]),
    );
    const [, , hookText] = s.deliveries.find(([c]) => c === "hook");
    assert.match(hookText, /^hook: delivered /);
    const [, pagerState, pagerText] = s.deliveries.find(([c]) => c === "pager");
    assert.notEqual(pagerState, "delivered");
    assert.match(pagerText, /^pager: (pending|failed).*HTTP 500/);
  }
  // The hostile budget's threshold alert is listed, its name as text.
  const hostile = shown.find((a) => a.subject === HOSTILE);
  assert.ok(hostile, `an alert of the hostile budget among ${JSON.stringify(shown.map((a) => a.subject))}`);
  assert.equal(hostile.kind, "threshold");
  assert.ok(shown.some((a) => a.kind === "threshold" && a.subject === "team spend"));
  assert.ok(shown.some((a) => a.kind === "forecast" && a.subject === "team spend"));
  return { api, shown };
}

/** Elements among `selectors` whose content is wider than their box. */
async function overflowing(page, selectors) {
  return page.evaluate((sels) => {
    const out = [];
    for (const sel of sels) {
      for (const el of document.querySelectorAll(sel)) {
        if (el.scrollWidth > el.clientWidth) out.push(`${sel}: ${el.scrollWidth} > ${el.clientWidth}`);
      }
    }
    return out;
  }, selectors);
}

const SECTION = ["html", "body", "#budgets", "#budget-list", ".budget", ".bar", "#litellm-budgets", ".litellm-budget", "#alerts", ".alert", ".deliveries"];

test("desktop (1280x800): a bar per budget with its numbers, ticks and forecast, LiteLLM's budgets and the recent alerts", async () => {
  const { page, problems } = await openDashboard(1280, 800);
  await checkBars(page);
  assert.equal(await page.locator("#budgets-empty").isHidden(), true);
  assert.equal(await page.locator("#budgets-key").isVisible(), true);
  assert.equal(await page.locator("#budgets-key-limit").isVisible(), true, "the key names the limit line");
  // The hostile name is text: no element was made of it, and no dialog opened (watch records dialogs).
  assert.equal(await page.locator("main img").count(), 0);
  assert.ok((await page.locator("#budgets").textContent()).includes(HOSTILE));

  // LiteLLM's own budgets: the team with a budget, the key without one.
  const team = page.locator('#litellm-budgets li[data-entity="team"]');
  assert.equal(await page.locator("#litellm-budgets li").count(), 1);
  const field = (f) => team.locator(`dd[data-field="${f}"]`).textContent();
  assert.equal(await team.getAttribute("data-name"), "research");
  assert.match(await field("remaining"), /7\.50/);
  assert.match(await field("max_budget"), /10\.00/);
  assert.equal(await field("used"), `${(await pagePct(page, [25]))[0]} %`);
  assert.equal(await field("hours"), `${(await pagePct(page, [36.5]))[0]} h`);
  assert.equal(await page.locator("#litellm-unbudgeted").textContent(), "No budget in LiteLLM: api key k1");

  // The alerts in the server's zone (the page's default), then in the browser's.
  await checkAlerts(page, SERVER_ZONE);
  await page.locator("#zone").selectOption(BROWSER_ZONE);
  await checkAlerts(page, BROWSER_ZONE);
  await page.locator("#zone").selectOption(SERVER_ZONE);

  assert.deepStrictEqual(await overflowing(page, SECTION), []);
  await page.locator("#budgets").screenshot({ path: join(artifacts, "budgets-desktop.png") });
  assert.deepStrictEqual(problems, []);
  await page.close();
});

test("phone (390x844): the bars and the alert list fit without sideways scrolling", async () => {
  const { page, problems } = await openDashboard(390, 844);
  const { shown } = await checkBars(page);
  await checkAlerts(page, SERVER_ZONE);
  assert.deepStrictEqual(await overflowing(page, SECTION), []);
  for (const s of shown) assert.ok(s.trackRight <= 390, `bar ends at ${s.trackRight}`);
  const rights = await page.$$eval("#budgets li, #budgets p, #budgets time", (els) =>
    els.map((e) => e.getBoundingClientRect().right),
  );
  for (const r of rights) assert.ok(r <= 390, `right edge ${r}`);
  // What a phone shows with the section at the top, and the whole section.
  await page.evaluate(() => document.querySelector("#budgets").scrollIntoView());
  await page.screenshot({ path: join(artifacts, "budgets-phone.png") });
  await page.locator("#budgets").screenshot({ path: join(artifacts, "budgets-phone-full.png") });
  assert.deepStrictEqual(problems, []);
  await page.close();
});
