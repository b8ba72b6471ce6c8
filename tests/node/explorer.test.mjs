// The dashboard's pure helpers (no DOM): the legend's colour book and the
// breakdown table's filter and sort.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ColorBook, PALETTE } from "../../web/src/colors.js";
import { filterAndSort } from "../../web/src/table.js";
import { formatSeconds, latencyLines } from "../../web/src/latency.js";

test("a key keeps its colour; a legend of up to ten keys never repeats one", () => {
  const book = new ColorBook();
  const first = book.assign("model", ["a", "b", "c"]);
  assert.deepStrictEqual([...first.values()], PALETTE.slice(0, 3));
  // A new order and a new key: the old keys keep theirs, the new one takes a free colour.
  const second = book.assign("model", ["d", "c", "a"]);
  assert.equal(second.get("c"), first.get("c"));
  assert.equal(second.get("a"), first.get("a"));
  assert.equal(second.get("d"), PALETTE[1]); // b's colour is free while b is not shown
  assert.equal(book.get("model", "b"), PALETTE[1]);
  // Dimensions have their own books.
  assert.equal(book.assign("team", ["x"]).get("x"), PALETTE[0]);
  // Ten keys, some already coloured: all distinct.
  const many = Array.from({ length: 10 }, (_, i) => `k${i}`);
  book.assign("key", many.slice(0, 4));
  const all = book.assign("key", many.toReversed());
  assert.equal(new Set(all.values()).size, 10);
});

test("the filter is a case-insensitive substring of the key; sort by any column, ties by key", () => {
  const rows = [
    { key: "GPT-4.1", cost: 2, requests: 5 },
    { key: "claude-haiku", cost: 3, requests: 5 },
    { key: "gpt-4o-mini", cost: 2, requests: 9 },
    { key: "(none)", cost: 0, requests: 1 },
  ];
  const keys = (view) => filterAndSort(rows, view).map((r) => r.key);
  assert.deepStrictEqual(keys({ filter: "gpt", sort: "cost", dir: "desc" }), ["GPT-4.1", "gpt-4o-mini"]);
  assert.deepStrictEqual(keys({ filter: "  4O ", sort: "cost", dir: "desc" }), ["gpt-4o-mini"]);
  assert.deepStrictEqual(keys({ filter: "", sort: "cost", dir: "desc" }), ["claude-haiku", "GPT-4.1", "gpt-4o-mini", "(none)"]);
  assert.deepStrictEqual(keys({ filter: "", sort: "requests", dir: "asc" }), ["(none)", "GPT-4.1", "claude-haiku", "gpt-4o-mini"]);
  assert.deepStrictEqual(keys({ filter: "", sort: "key", dir: "asc" }), ["(none)", "GPT-4.1", "claude-haiku", "gpt-4o-mini"]);
  assert.deepStrictEqual(keys({ filter: "", sort: "key", dir: "desc" }), ["gpt-4o-mini", "claude-haiku", "GPT-4.1", "(none)"]);
  assert.deepStrictEqual(keys({ filter: "nothing", sort: "key", dir: "asc" }), []);
  // The input is not reordered.
  assert.equal(rows[0].key, "GPT-4.1");
});

test("a missing latency sorts last in either direction", () => {
  const rows = [
    { key: "a", p90: null },
    { key: "b", p90: 0.5 },
    { key: "c", p90: 2 },
    { key: "d", p90: null },
  ];
  const keys = (dir) => filterAndSort(rows, { filter: "", sort: "p90", dir }).map((r) => r.key);
  assert.deepStrictEqual(keys("desc"), ["c", "b", "a", "d"]);
  assert.deepStrictEqual(keys("asc"), ["b", "c", "a", "d"]);
});

test("latencies read as milliseconds below a second, seconds above; none is a dash", () => {
  assert.equal(formatSeconds(0.0123), `${(12.3).toLocaleString(undefined, { maximumFractionDigits: 1 })} ms`);
  assert.equal(formatSeconds(0.25), "250 ms");
  assert.equal(formatSeconds(2.5), `${(2.5).toLocaleString(undefined, { minimumFractionDigits: 2 })} s`);
  for (const none of [null, undefined, NaN, Infinity]) assert.equal(formatSeconds(none), "–");
});

test("latency lines follow the legend: its keys and colours first, new keys after, 'other' keys left out", () => {
  const book = new ColorBook();
  const colors = book.assign("model", ["big", "small"]);
  const legend = [
    { label: "big", keys: ["big"], color: colors.get("big") },
    { label: "small", keys: ["small"], color: colors.get("small") },
    { label: "other (2)", keys: ["x", "y"], color: "#9a9a9a", other: true },
  ];
  const body = {
    series: [
      { key: "zeta-underlying", values: [0.2, null] },
      { key: "small", values: [null, 1.5] },
      { key: "big", values: [null, null] },
      { key: "x", values: [0.1, 0.1] },
      { key: "alpha-underlying", values: [0.3, 0.3] },
    ],
  };
  const { lines, left } = latencyLines(body, legend, book, "model");
  assert.deepStrictEqual(
    lines.map((l) => l.label),
    ["small", "alpha-underlying", "zeta-underlying"],
  );
  assert.equal(lines[0].color, colors.get("small"));
  assert.equal(new Set([...lines.map((l) => l.color), colors.get("big")]).size, 4);
  assert.deepStrictEqual(lines[0].values, [null, 1.5]);
  assert.equal(left, 1);
});
