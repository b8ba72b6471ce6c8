// The budgets section: a bar per budget of /api/v1/budgets (spent of the
// limit, threshold ticks, the forecast marker), LiteLLM's own budgets, and
// the recent alerts of /api/v1/alerts. Every number is the server's (the
// core computed spend, percent, forecast and state); this module only draws
// them. Every name is set with textContent, never parsed as HTML.

/** What each budget state is called on the page. */
export const STATE_WORDS = {
  ok: "On track",
  warning: "Threshold reached",
  forecast_over: "Forecast over the limit",
  over: "Over the limit",
};

/** What each alert kind is called on the page. */
export const KIND_WORDS = {
  threshold: "Threshold",
  forecast: "Forecast",
  spike: "Spike",
  scrape_down: "Scrape down",
  scrape_recovered: "Scrape recovered",
  litellm_budget: "LiteLLM budget",
  test: "Test",
};

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/**
 * Where a percent of the limit sits on a bar, as a percent of the bar's
 * width. The bar runs from 0 to the limit, or to the highest threshold when
 * one lies above 100 %; anything beyond is drawn at the end.
 */
export function barPosition(percent, scale) {
  return Math.min(Math.max(percent, 0), scale) / scale * 100;
}

/** The right end of a budget's bar, in percent of its limit. */
export function barScale(budget) {
  return Math.max(100, ...budget.thresholds.map((t) => t.percent));
}

/**
 * The sentence a screen reader hears for a budget's bar, also shown under
 * it: the numbers, the forecast and which thresholds are reached.
 */
function budgetSentence(b, f) {
  const beyond = b.forecast_percent > 100;
  const reached = b.thresholds.filter((t) => t.reached).map((t) => `${f.pct(t.percent)} %`);
  const parts = [
    `${f.value(b.metric, b.spent)} of ${f.value(b.metric, b.limit)} (${f.pct(b.percent)} %)`,
    `forecast ${f.value(b.metric, b.forecast)} (${f.pct(b.forecast_percent)} %)${beyond ? ", beyond the limit" : ""}`,
    reached.length > 0 ? `reached ${reached.join(", ")}` : "no threshold reached",
  ];
  return parts.join(" · ");
}

/** One budget: its name and state, the bar, the numbers and its period. */
function budgetItem(b, i, f) {
  const li = el("li", null, { class: "budget" });
  li.dataset.state = b.state;
  li.dataset.name = b.name;
  li.dataset.percent = String(b.percent);
  li.dataset.spent = String(b.spent);
  li.dataset.limit = String(b.limit);
  li.dataset.forecast = String(b.forecast);
  li.dataset.forecastPercent = String(b.forecast_percent);
  const nameId = `budget-${i}-name`;
  const textId = `budget-${i}-text`;

  const head = el("div", null, { class: "budget-head" });
  head.append(
    el("p", b.name, { class: "budget-name", id: nameId }),
    el("span", STATE_WORDS[b.state] ?? b.state, { class: "budget-state", "data-field": "state" }),
  );

  const scale = barScale(b);
  const sentence = budgetSentence(b, f);
  const bar = el("div", null, {
    class: "bar",
    role: "meter",
    "aria-labelledby": nameId,
    "aria-describedby": textId,
    "aria-valuemin": "0",
    // A meter's value stays within its range: an overspent budget's bar is full.
    "aria-valuemax": String(Math.max(b.limit, b.spent)),
    "aria-valuenow": String(b.spent),
    "aria-valuetext": sentence,
  });
  const track = el("div", null, { class: "track" });
  const fill = el("div", null, { class: "fill" });
  fill.style.width = `${barPosition(b.percent, scale)}%`;
  track.append(fill);
  if (scale > 100) {
    const limit = el("span", null, { class: "limit-line" });
    limit.style.left = `${barPosition(100, scale)}%`;
    track.append(limit);
  }
  for (const t of b.thresholds) {
    const tick = el("span", null, { class: "tick" });
    tick.dataset.percent = String(t.percent);
    tick.dataset.reached = String(t.reached);
    tick.style.left = `${barPosition(t.percent, scale)}%`;
    track.append(tick);
  }
  const marker = el("span", null, { class: "forecast" });
  marker.dataset.beyond = String(b.forecast_percent > 100);
  marker.dataset.clamped = String(b.forecast_percent > scale);
  marker.style.left = `${barPosition(b.forecast_percent, scale)}%`;
  track.append(marker);
  bar.append(track);

  const numbers = el("p", null, { class: "budget-text", id: textId });
  numbers.append(
    el("span", `${f.value(b.metric, b.spent)} of ${f.value(b.metric, b.limit)}`, { "data-field": "amount" }),
    " · ",
    el("span", `${f.pct(b.percent)} %`, { class: "budget-percent", "data-field": "percent" }),
    " · ",
    el(
      "span",
      `forecast ${f.value(b.metric, b.forecast)}${b.forecast_percent > 100 ? ", beyond the limit" : ""}`,
      { "data-field": "forecast" },
    ),
  );
  const thresholds = b.thresholds.map((t) => `${f.pct(t.percent)} %${t.reached ? " (reached)" : ""}`).join(", ");
  const period = el("p", null, { class: "budget-period muted" });
  period.append(
    el("span", `${b.period} ${b.period_key}: ${b.period_start} to ${b.period_end}`, { "data-field": "period" }),
    " · ",
    el("span", `${b.metric}, ${b.scope}`, { "data-field": "scope" }),
    " · ",
    el("span", `thresholds ${thresholds}`, { "data-field": "thresholds" }),
  );
  li.append(head, bar, numbers, period);
  return li;
}

/** One LiteLLM entity with a budget: remaining of max, percent used, hours to the reset. */
function litellmItem(b, f) {
  const li = el("li", null, { class: "litellm-budget" });
  li.dataset.entity = b.entity;
  li.dataset.name = b.name;
  const head = el("p", null, { class: "litellm-name" });
  head.append(el("span", b.entity.replaceAll("_", " "), { class: "muted" }), " ", el("span", b.name, { "data-field": "name" }));
  const dl = el("dl");
  const field = (id, label, text) => {
    const div = el("div");
    div.append(el("dt", label), el("dd", text, { "data-field": id }));
    dl.append(div);
  };
  const money = (v) => (v === null ? "no budget" : f.money(v));
  field("remaining", "Remaining", money(b.remaining));
  field("max_budget", "Budget", money(b.max_budget));
  field("used", "Used", b.used_percent === null ? "–" : `${f.pct(b.used_percent)} %`);
  field("hours", "Resets in", b.remaining_hours === null ? "never" : `${f.pct(b.remaining_hours)} h`);
  li.append(head, dl);
  return li;
}

/**
 * Renders the budgets of `/api/v1/budgets` (`data`, or null with `error`
 * when it failed) into the section. `f` holds the page's formatters:
 * `value(metric, v)`, `money(v)`, `pct(v)`.
 */
export function renderBudgets(data, error, f) {
  const $ = (sel) => document.querySelector(sel);
  const section = $("#budgets");
  const errorEl = $("#budgets-error");
  errorEl.hidden = !error;
  errorEl.textContent = error ? `Could not load the budgets: ${error.message}` : "";
  if (!data) {
    section.dataset.state = "error";
    return;
  }
  const budgets = data.budgets ?? [];
  const worst = ["over", "warning", "forecast_over", "ok"].find((s) => budgets.some((b) => b.state === s));
  section.dataset.state = worst ?? "none";
  section.dataset.budgets = String(budgets.length);
  $("#budgets-empty").hidden = budgets.length > 0;
  $("#budgets-key").hidden = budgets.length === 0;
  // The limit is drawn as a line only on bars that run past it (a threshold above 100 %).
  $("#budgets-key-limit").hidden = !budgets.some((b) => barScale(b) > 100);
  $("#budget-list").replaceChildren(...budgets.map((b, i) => budgetItem(b, i, f)));

  const litellm = data.litellm_budgets ?? [];
  const withBudget = litellm.filter((b) => b.has_budget);
  const without = litellm.filter((b) => !b.has_budget);
  $("#litellm-budgets-part").hidden = litellm.length === 0;
  $("#litellm-budgets").replaceChildren(...withBudget.map((b) => litellmItem(b, f)));
  const rest = $("#litellm-unbudgeted");
  rest.hidden = without.length === 0;
  rest.textContent =
    without.length === 0
      ? ""
      : `No budget in LiteLLM: ${without.map((b) => `${b.entity.replaceAll("_", " ")} ${b.name}`).join(", ")}`;
}

/** The delivery of an alert to one channel, in words. */
function deliveryText(d, when) {
  if (d.state === "delivered") return `${d.channel}: delivered ${when(d.delivered_at)}`;
  const tries = `${d.attempts} ${d.attempts === 1 ? "attempt" : "attempts"}`;
  const error = d.last_error ? `, last error: ${d.last_error}` : "";
  if (d.state === "failed") return `${d.channel}: failed after ${tries}${error}`;
  const next = d.next_attempt_at ? `, next try ${when(d.next_attempt_at)}` : "";
  return `${d.channel}: pending, ${tries}${error}${next}`;
}

/**
 * Renders the alerts of `/api/v1/alerts` (`data`, or null when it failed),
 * newest first. `when(iso)` formats an instant in the page's zone.
 */
export function renderAlerts(data, f, when) {
  const list = document.querySelector("#alerts");
  const countEl = document.querySelector("#alerts-count");
  if (!data) {
    countEl.textContent = "Could not load the alerts.";
    list.replaceChildren();
    return;
  }
  const alerts = data.alerts ?? [];
  const channels = data.channels ?? [];
  countEl.textContent =
    alerts.length === 0
      ? "No alert has been recorded."
      : `The latest ${alerts.length} ${alerts.length === 1 ? "alert" : "alerts"}, newest first` +
        (channels.length === 0 ? "; no channel is configured, so none was sent." : ".");
  list.replaceChildren(
    ...alerts.map((a) => {
      const li = el("li", null, { class: "alert" });
      li.dataset.kind = a.kind;
      li.dataset.id = String(a.id);
      const head = el("p", null, { class: "alert-head" });
      head.append(
        el("time", when(a.created_at), { datetime: a.created_at, "data-field": "time" }),
        " ",
        el("span", KIND_WORDS[a.kind] ?? a.kind, { class: "alert-kind", "data-field": "kind" }),
        " ",
        el("span", a.subject, { class: "alert-subject", "data-field": "subject" }),
      );
      if (a.threshold !== null) {
        head.append(" ", el("span", `${f.pct(a.threshold)} %`, { class: "alert-threshold", "data-field": "threshold" }));
      }
      const title = el("p", a.title, { class: "alert-title" });
      const deliveries = el("ul", null, { class: "deliveries", "aria-label": "Deliveries" });
      deliveries.append(
        ...a.deliveries.map((d) => {
          const item = el("li", deliveryText(d, when));
          item.dataset.channel = d.channel;
          item.dataset.state = d.state;
          return item;
        }),
      );
      li.append(head, title, deliveries);
      return li;
    }),
  );
}
