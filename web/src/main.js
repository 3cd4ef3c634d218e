// The console's shell: header with the search box, hash routing (every view has a URL that can
// be pasted into a ticket: #/search/NAME, #/timeline/NAME, #/graph?seed=..., ...), and the login,
// search, list and resolutions views. Charts, graph and the analyses live in their own modules.
import "./style.css";
import { get, apiKey, setApiKey, download } from "./api.js";
import { parseQuery, classify, lookupPath } from "./search.js";
import { h, fill, timeCell, num, searchLink, qs, tabs, loading, showError } from "./util.js";
import { timelineView } from "./timeline.js";
import { graphView } from "./graph.js";
import { sharedView, newView, fastfluxView, detectView } from "./analyses.js";
import { lookbackView } from "./lookback.js";
import { watchView } from "./watch.js";
import { dormancyView, revivedView } from "./temporal.js";

const app = document.getElementById("app");
const main = h("main", { id: "main" });
const searchBox = h("textarea", {
  id: "q",
  rows: 1,
  spellcheck: "false",
  placeholder: "name, *.zone, IP, CIDR, ASnnn — or paste a list",
  "aria-label": "search",
});
const searchError = h("span", { id: "q-error", class: "error" });

function submitSearch(ev) {
  ev?.preventDefault();
  const text = searchBox.value.trim();
  if (!text) return;
  const q = parseQuery(text);
  searchError.textContent = "";
  if (q.list) {
    location.hash = `#/list${qs({ q: q.items.map((i) => i.value).join(",") })}`;
    return;
  }
  const item = q.items[0];
  if (item.kind === "invalid") searchError.textContent = `${item.value}: ${item.reason}`;
  else if (item.kind === "asn") location.hash = `#/shared/${item.value}`;
  else location.hash = `#/search/${encodeURIComponent(item.value)}`;
}

searchBox.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) submitSearch(e);
});
searchBox.addEventListener("input", () => {
  searchBox.rows = Math.min(8, Math.max(1, searchBox.value.split("\n").length));
});

const logout = h("button", {
  id: "logout",
  class: "link",
  onclick: () => {
    setApiKey(null);
    location.hash = "#/login";
  },
}, "log out");

app.append(
  h("header", {},
    h("a", { href: "#/", class: "brand" }, "dnsledger"),
    h("form", { id: "search", onsubmit: submitSearch }, searchBox, h("button", { type: "submit" }, "Search")),
    h("nav", {},
      h("a", { href: "#/new" }, "New domains"),
      h("a", { href: "#/detect" }, "Detections"),
      h("a", { href: "#/revived" }, "Revived"),
      h("a", { href: "#/lookback" }, "Lookback"),
      h("a", { href: "#/watch" }, "Watchlists"),
      logout)),
  h("div", { class: "search-error" }, searchError),
  main,
);

// ---- login ----

function loginView(el, _segs, params) {
  const next = params.get("next") || "#/";
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", placeholder: "API key" });
  const msg = h("p", { class: "error" });
  const form = h("form", {
    class: "login",
    onsubmit: async (e) => {
      e.preventDefault();
      setApiKey(input.value.trim());
      try {
        await get("/api/v1/stats");
        location.hash = next;
      } catch (err) {
        msg.textContent = err.status === 401 || err.status === 403 ? "this key was not accepted" : err.message;
        if (!location.hash.startsWith("#/login")) location.hash = `#/login${qs({ next })}`;
      }
    },
  }, h("h1", {}, "API key"),
  h("p", {}, "This server needs an API key. It is kept in this tab only (sessionStorage) and sent as X-API-Key."),
  input, h("button", { type: "submit" }, "Log in"), msg);
  fill(el, form);
  input.focus();
}

// ---- home ----

function homeView(el) {
  fill(el, h("section", { class: "home" },
    h("h1", {}, "Search the DNS history"),
    h("p", {}, "Type a name (www.example.com), a wildcard (*.example.com), an address (192.0.2.1), a prefix (198.51.100.0/24) or an AS number (AS64496), or paste a list of indicators."),
    h("ul", {},
      h("li", {}, h("a", { href: "#/new" }, "Newly observed domains"), " — first seen within a window"),
      h("li", {}, h("a", { href: "#/detect" }, "ATT&CK detections"), " — new domains, shadowing, delegation changes, dangling CNAMEs"),
      h("li", {}, h("a", { href: "#/revived" }, "Revived domains"), " — back after a long silence"),
      h("li", {}, h("a", { href: "#/lookback" }, "Lookback"), " — a batch of indicators (text, MISP event, STIX bundle) against the history"),
      h("li", {}, h("a", { href: "#/watch" }, "Watchlists and alerts"), " — names and addresses to be told about"))));
  searchBox.focus();
}

// ---- resolutions ----

const COLUMNS = [
  ["rrname", "Name"],
  ["rrtype", "Type"],
  ["rdata", "Data"],
  ["first", "First seen (UTC)"],
  ["last", "Last seen (UTC)"],
  ["count", "Count"],
  ["ttl", "TTL"],
  ["sensors", "Sensors"],
];

/** Records of a whole-answer CSV export at most (the server streams CSV). */
const CSV_EXPORT_CAP = 100000;
/** Records of a whole-answer MISP or STIX export at most (the server builds them in memory). */
const JSON_EXPORT_CAP = 10000;

function sensorsOf(r) {
  return r.sensors || (r.sensor_id ? [r.sensor_id] : []);
}

function ttlText(r) {
  if (r.ttl_min === undefined) return r.ttl === undefined ? "" : String(r.ttl);
  return r.ttl_min === r.ttl_max ? String(r.ttl_min) : `${r.ttl_min}–${r.ttl_max}`;
}

function csv(records) {
  const esc = (v) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const rows = [["rrname", "rrtype", "rdata", "time_first", "time_last", "count", "ttl_min", "ttl_max", "bailiwick", "sensors"]];
  for (const r of records) {
    rows.push([r.rrname, r.rrtype, (r.rdata || []).join(" "), r.time_first ?? "", r.time_last ?? "", r.count ?? "",
      r.ttl_min ?? "", r.ttl_max ?? "", r.bailiwick ?? "", sensorsOf(r).join(" ")].map((v) => esc(String(v))));
  }
  return rows.map((r) => r.join(",")).join("\n") + "\n";
}

async function resolutionsView(el, segs, params, signal) {
  const value = decodeURIComponent(segs[1] || "");
  const item = classify(value);
  searchBox.value = item.value;
  if (item.kind === "asn") {
    location.hash = `#/shared/${item.value}`;
    return;
  }
  if (item.kind === "invalid") {
    fill(el, h("p", { class: "error" }, `${item.value}: ${item.reason}`));
    return;
  }
  const size = Math.min(1000, Math.max(1, Number(params.get("size")) || 100));
  const page = Math.max(0, Number(params.get("page")) || 0);
  const type = (params.get("type") || "").toUpperCase();
  const after = params.get("after") || "";
  const before = params.get("before") || "";
  const sensor = params.get("sensor") || "";
  const sort = params.get("sort") || "";
  const nameType = item.kind === "name" || item.kind === "wildcard";
  const state = { type, after, before, sensor, sort, size };
  const link = (over) => `#/search/${encodeURIComponent(item.value)}${qs({ ...state, page, ...over })}`;

  const typeIn = h("input", { name: "type", value: type, placeholder: "any", size: 8, title: "rrtype, e.g. A, AAAA, NS, CNAME" });
  const afterIn = h("input", { name: "after", value: after, placeholder: "YYYY-MM-DD or -30d", size: 14 });
  const beforeIn = h("input", { name: "before", value: before, placeholder: "YYYY-MM-DD", size: 14 });
  const sensorIn = h("input", { name: "sensor", value: sensor, placeholder: "any", size: 12 });
  const filters = h("form", {
    class: "filters",
    onsubmit: (e) => {
      e.preventDefault();
      location.hash = link({ type: typeIn.value.trim().toUpperCase(), after: afterIn.value.trim(), before: beforeIn.value.trim(), sensor: sensorIn.value.trim(), page: 0 });
    },
  }, h("label", {}, "Type ", typeIn), h("label", {}, "Seen after ", afterIn), h("label", {}, "before ", beforeIn),
  h("label", {}, "Sensor ", sensorIn), h("button", { type: "submit" }, "Apply"));
  const body = h("div", { id: "resolutions" });
  fill(el, tabs(item.value, "resolutions"), filters, body);
  loading(body, "resolutions");

  const query = {
    limit: size,
    offset: page * size,
    time_last_after: after,
    time_first_before: before,
    sensor,
    // sorted by the server over the whole answer (up to its cap), so every page is in order
    sort,
  };
  let r;
  try {
    r = await get(lookupPath(item, nameType ? type : ""), query, { signal });
  } catch (e) {
    showError(body, e);
    return;
  }
  let records = r.records || [];
  const fetched = records.length;
  // the API filters by type (names), time and sensor, on the whole answer; the type of address
  // lookups (the rdata routes have no type for addresses) is filtered here, on the page fetched
  if (!nameType && type) records = records.filter((x) => x.rrtype === type);
  const head = h("tr", {}, COLUMNS.map(([key, label]) => {
    const cur = sort.replace(/^-/, "") === key;
    const next = cur && !sort.startsWith("-") ? `-${key}` : key;
    return h("th", { class: cur ? "sorted" : "" }, h("a", { href: link({ sort: next }) }, label, cur ? (sort.startsWith("-") ? " ▼" : " ▲") : ""));
  }));
  const rowOf = (x) => h("tr", {},
    h("td", {}, searchLink(x.rrname)),
    h("td", {}, x.rrtype),
    h("td", { class: "rdata" }, (x.rdata || []).map((d) => h("div", {}, ["A", "AAAA", "NS", "CNAME", "MX", "PTR", "DNAME"].includes(x.rrtype) ? searchLink(d.replace(/^\d+ /, "")) : d))),
    timeCell(x.time_first ?? x.zone_time_first),
    timeCell(x.time_last ?? x.zone_time_last),
    h("td", { class: "num" }, num(x.count)),
    h("td", { class: "num" }, ttlText(x)),
    h("td", {}, sensorsOf(x).join(", ")));
  const first = page * size + 1;
  const status = fetched
    ? `records ${num(first)}–${num(page * size + fetched)}${r.limited ? " (more on the next page)" : ""}` +
      (records.length !== fetched ? `; ${records.length} shown after the filters on this page` : "")
    : page > 0 ? "no more records" : "no records";
  const stem = item.value.replace(/[^a-z0-9.-]/gi, "_");
  const blob = new Blob([csv(records)], { type: "text/csv" });
  const goto = h("input", { id: "goto", type: "number", min: 1, value: page + 1, size: 5, "aria-label": "page" });
  const pager = h("div", { class: "pager" },
    page > 0 ? h("a", { href: link({ page: 0 }), id: "first" }, "« first") : null,
    page > 0 ? h("a", { href: link({ page: page - 1 }), id: "prev" }, "‹ previous") : null,
    h("span", { id: "status" }, status),
    r.limited ? h("a", { href: link({ page: page + 1 }), id: "next" }, "next ›") : null,
    h("form", { class: "goto", onsubmit: (e) => {
      e.preventDefault();
      location.hash = link({ page: Math.max(0, (Number(goto.value) || 1) - 1) });
    } }, "page ", goto),
    h("label", {}, " per page ", h("select", { onchange: (e) => (location.hash = link({ size: e.target.value, page: 0 })) },
      [50, 100, 250, 500, 1000].map((n) => h("option", { value: n, selected: n === size }, n)))));
  const exportMsg = h("span", { id: "export-status", class: "rel" });
  const exporter = (format) => async () => {
    const cap = format === "csv" ? CSV_EXPORT_CAP : JSON_EXPORT_CAP;
    exportMsg.textContent = `exporting ${format.toUpperCase()}…`;
    const params = { ...query, limit: cap, offset: 0, format };
    const path = lookupPath(item, nameType ? type : "");
    try {
      // is there a record past the cap? (asked beside the export; the exports do not say)
      const [saved, beyond] = await Promise.all([
        download("GET", path, params, `${stem}.${format === "csv" ? "csv" : `${format}.json`}`),
        get(path, { ...query, limit: 1, offset: cap }),
      ]);
      const cut = (beyond.records || []).length > 0;
      exportMsg.textContent = `${format.toUpperCase()}: ${num(saved.bytes)} bytes saved` +
        (cut ? `; cut at ${num(cap)} records (the answer holds more: narrow the type, window or sensor)` : "; the whole answer");
      exportMsg.dataset.cut = cut ? "1" : "0";
    } catch (e) {
      exportMsg.textContent = `${format.toUpperCase()} export failed: ${e.message}`;
    }
  };
  const exports = h("div", { class: "exports" }, "Export: ",
    h("a", { href: URL.createObjectURL(blob), download: `${stem}-p${page}.csv`, id: "csv-page" }, "CSV (this page)"),
    h("button", { type: "button", id: "export-csv", onclick: exporter("csv") }, "CSV"),
    h("button", { type: "button", id: "export-misp", onclick: exporter("misp") }, "MISP"),
    h("button", { type: "button", id: "export-stix", onclick: exporter("stix") }, "STIX"),
    h("span", { class: "rel" }, ` whole answer with these filters and this order, up to ${num(CSV_EXPORT_CAP)} records in CSV and ${num(JSON_EXPORT_CAP)} in MISP or STIX `),
    exportMsg);
  const cols = () => h("colgroup", {}, COLUMNS.map(([key]) => h("col", { class: `c-${key}` })));
  const table = h("div", { id: "records", class: "records" }, h("table", { class: "grid head" }, cols(), h("thead", {}, head)));
  fill(body, pager, exports, table);
  await appendRows(table, records, (chunk) => h("div", { class: "chunk" }, h("table", { class: "grid" }, cols(), h("tbody", {}, chunk.map(rowOf)))), signal);
  table.dataset.complete = "1";
}

/** Records per block of the resolutions table. */
const ROW_CHUNK = 100;

/**
 * Appends the records as blocks of ROW_CHUNK rows, each its own fixed-layout table under the
 * shared header: the first block at once, the others one per task. A block off screen is
 * neither laid out nor painted (`content-visibility: auto`, which table rows themselves do not
 * take), and appending one never lays out the others again, so a page of 1 000 records shows
 * its first rows at once and holds the main thread only briefly. Stops when the view is left.
 */
async function appendRows(el, records, block, signal) {
  for (let i = 0; i < records.length; i += ROW_CHUNK) {
    if (i > 0) await new Promise((r) => setTimeout(r, 0));
    if (signal?.aborted) return;
    el.append(block(records.slice(i, i + ROW_CHUNK)));
  }
}

// ---- a pasted list ----

/** The first items of `values` whose lines fit in `max` characters. */
function upTo(values, max) {
  const out = [];
  let n = 0;
  for (const v of values) {
    n += v.length + 1;
    if (n > max + 1) break;
    out.push(v);
  }
  return out;
}

async function listView(el, _segs, params, signal) {
  const items = parseQuery((params.get("q") || "").replace(/,/g, "\n")).items;
  searchBox.value = items.map((i) => i.value).join("\n");
  const rows = items.map((item) => {
    const count = h("td", { class: "num" }, item.kind === "invalid" ? "" : "…");
    const target = item.kind === "asn" ? `#/shared/${item.value}` : `#/search/${encodeURIComponent(item.value)}`;
    return { item, count, tr: h("tr", {}, h("td", {}, item.kind === "invalid" ? item.value : h("a", { href: target }, item.value)), h("td", {}, item.kind === "invalid" ? `invalid: ${item.reason}` : item.kind), count) };
  });
  const valid = items.filter((i) => i.kind !== "invalid" && i.kind !== "asn").map((i) => i.value);
  fill(el, h("h1", {}, `${items.length} indicators`),
    valid.length ? h("p", {}, h("a", { href: `#/lookback${qs({ q: upTo(valid, 2000).join("\n") })}`, id: "list-lookback" }, "Run them as a lookback"),
      h("span", { class: "rel" }, " (every match over the history, with exports)")) : null,
    h("table", { class: "grid", id: "list" }, h("thead", {}, h("tr", {}, h("th", {}, "Indicator"), h("th", {}, "Kind"), h("th", {}, "Records (up to 1,000)"))), h("tbody", {}, rows.map((r) => r.tr))));
  // four lookups at a time
  const queue = rows.filter((r) => lookupPath(r.item));
  const worker = async () => {
    for (let r = queue.shift(); r; r = queue.shift()) {
      try {
        const a = await get(lookupPath(r.item), { limit: 1000 }, { signal });
        r.count.textContent = `${num(a.returned)}${a.limited ? "+" : ""}`;
      } catch (e) {
        if (e.name === "AbortError") return;
        r.count.textContent = e.message;
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

// ---- routing ----

const ROUTES = {
  "": homeView,
  login: loginView,
  search: resolutionsView,
  list: listView,
  timeline: timelineView,
  graph: graphView,
  shared: sharedView,
  cohosted: sharedView,
  new: newView,
  fastflux: fastfluxView,
  detect: detectView,
  lookback: lookbackView,
  watch: watchView,
  dormancy: dormancyView,
  revived: revivedView,
};

let current = null;

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?", 2);
  const segs = path.split("/");
  const params = new URLSearchParams(query || "");
  const view = ROUTES[segs[0]];
  current?.abort();
  current = new AbortController();
  logout.hidden = !apiKey();
  document.title = `dnsledger — ${segs[0] || "search"}${segs[1] ? " " + decodeURIComponent(segs[1]) : ""}`;
  if (!view) {
    fill(main, h("p", { class: "error" }, `no view ${segs[0]}`));
    return;
  }
  Promise.resolve(view(main, segs, params, current.signal)).catch((e) => showError(main, e));
}

window.addEventListener("hashchange", route);
route();
