// The dashboard's pure helpers (no DOM): the legend's colour book and the
// breakdown table's filter and sort.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ColorBook, PALETTE } from "../../web/src/colors.js";
import { filterAndSort } from "../../web/src/table.js";

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
