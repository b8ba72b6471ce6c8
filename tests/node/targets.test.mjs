// The dashboard's list of scrape targets (web/src/targets.js) from /health.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fleetTargets, targetStatus } from "../../web/src/targets.js";

const target = (instance, fields) => ({
  instance,
  listed: true,
  fresh: true,
  last_success: "2026-12-06T10:00:00Z",
  last_attempt: "2026-12-06T10:00:00Z",
  last_error: null,
  consecutive_failures: 0,
  ...fields,
});

test("one target keeps the fleet-wide entry; several get one entry each", () => {
  assert.equal(fleetTargets({ status: "ok" }), null);
  assert.equal(fleetTargets({ targets: [target("a:1")] }), null);
  const health = {
    scrape_interval: 60,
    stale_after: 180,
    targets: [
      target("10.0.0.1:4000", { listed: false }),
      target("10.0.0.2:4000", {
        last_error: "cannot connect: connection refused",
        consecutive_failures: 3,
        fresh: false,
      }),
      target("10.0.0.3:4000", {}),
    ],
  };
  const entries = fleetTargets(health);
  assert.deepStrictEqual(
    entries.map((e) => [e.name, e.status, e.error, e.failures]),
    [
      ["10.0.0.2:4000", "degraded", "cannot connect: connection refused", 3],
      ["10.0.0.3:4000", "ok", null, 0],
      ["10.0.0.1:4000", "unlisted", null, 0],
    ],
  );
  assert.deepStrictEqual(
    [entries[1].lastSuccess, entries[1].interval, entries[1].staleAfter, entries[1].fresh],
    ["2026-12-06T10:00:00Z", 60, 180, true],
  );
});

test("a target's word: unlisted, failing, never scraped, stale or ok", () => {
  const rows = [
    [{ listed: false, last_error: "x" }, "unlisted"],
    [{ last_error: "timed out" }, "degraded"],
    [{ last_success: null }, "starting"],
    [{ fresh: false }, "stale"],
    [{}, "ok"],
  ];
  for (const [fields, want] of rows) {
    assert.equal(targetStatus(target("t:1", fields)), want, JSON.stringify(fields));
  }
});
