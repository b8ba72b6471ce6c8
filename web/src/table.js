// A table sortable by any column, with a filter on its key column. Rows are
// plain objects; every cell is set with textContent, never parsed as HTML.

/**
 * The rows whose key contains `filter` (case-insensitive), sorted by column
 * `sort` in direction `dir` ("asc" or "desc"); ties go by key, ascending.
 * A missing value (null: no latency observed) sorts last either way.
 */
export function filterAndSort(rows, { filter, sort, dir }) {
  const needle = filter.trim().toLowerCase();
  const kept = needle ? rows.filter((r) => r.key.toLowerCase().includes(needle)) : rows.slice();
  const sign = dir === "asc" ? 1 : -1;
  const byKey = (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  const missing = (v) => v === null || v === undefined;
  kept.sort((a, b) => {
    const x = a[sort];
    const y = b[sort];
    if (missing(x) || missing(y)) return missing(x) - missing(y) || byKey(a, b);
    const c = typeof x === "string" ? (x < y ? -1 : x > y ? 1 : 0) : x - y;
    return sign * c || byKey(a, b);
  });
  return kept;
}

/**
 * Renders a sortable table into `table`: `columns` are
 * `{ id, label, text?: true, format?: (value, row) => string, decorate?: (th, row) => void }`;
 * the first column is the row header. `view` is `{ filter, sort, dir }`;
 * `onSort(id)` is called when a column header is clicked.
 */
export function renderTable(table, columns, rows, view, { onSort, empty }) {
  const headRow = document.createElement("tr");
  for (const col of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.dataset.col = col.id;
    const sorted = view.sort === col.id;
    th.setAttribute("aria-sort", sorted ? (view.dir === "asc" ? "ascending" : "descending") : "none");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = col.label;
    const mark = document.createElement("span");
    mark.className = "sort-mark";
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = sorted ? (view.dir === "asc" ? "▲" : "▼") : "";
    button.append(mark);
    button.addEventListener("click", () => onSort(col.id));
    th.append(button);
    headRow.append(th);
  }
  table.tHead.replaceChildren(headRow);

  const shown = filterAndSort(rows, view);
  const trs = shown.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.key = row.key;
    columns.forEach((col, i) => {
      const el = document.createElement(i === 0 ? "th" : "td");
      if (i === 0) el.scope = "row";
      el.dataset.col = col.id;
      const value = row[col.id];
      if (!col.text) el.dataset.value = String(value);
      el.dataset.label = col.label;
      const text = document.createElement("span");
      text.textContent = col.format ? col.format(value, row) : String(value);
      if (col.decorate) col.decorate(el, row);
      el.append(text);
      tr.append(el);
    });
    return tr;
  });
  if (trs.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = columns.length;
    td.className = "empty";
    td.textContent = empty(rows.length);
    tr.append(td);
    trs.push(tr);
  }
  table.tBodies[0].replaceChildren(...trs);
  return shown.length;
}
