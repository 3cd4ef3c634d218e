// The lookback view (#/lookback): a batch of indicators, pasted or uploaded (plain text, a MISP
// event or a STIX 2.1 bundle: the server parses and sniffs them), run against the whole history
// by POST /api/v1/analytics/lookback; matches per indicator, the items the parser rejected with
// their position, and exports of the matches (CSV, MISP, STIX) from the same route.
import { post, download } from "./api.js";
import { h, fill, num, qs, notes, loading, showError, timeCell, searchLink } from "./util.js";

/** Pasted text longer than this is not put in the URL (a link must stay pasteable). */
export const MAX_URL_TEXT = 2000;
/** Records shown per indicator when it is opened (the API lists up to its `limit`). */
const RECORDS_SHOWN = 200;

function field(name, label, value, ph, size = 12) {
  return h("label", {}, `${label} `, h("input", { name, value, placeholder: ph, size }));
}

function recordsTable(records) {
  const shown = records.slice(0, RECORDS_SHOWN);
  return h("div", {},
    h("table", { class: "grid inner" },
      h("thead", {}, h("tr", {}, ["Name", "Type", "Data", "First seen (UTC)", "Last seen (UTC)", "Count", "Sensors"].map((x) => h("th", {}, x)))),
      h("tbody", {}, shown.map((r) => h("tr", {},
        h("td", {}, searchLink(r.rrname)), h("td", {}, r.rrtype), h("td", { class: "rdata" }, (r.rdata || []).join(" ")),
        timeCell(r.time_first ?? r.zone_time_first), timeCell(r.time_last ?? r.zone_time_last),
        h("td", { class: "num" }, num(r.count)), h("td", {}, (r.sensors || []).join(", ")))))),
    records.length > shown.length ? h("p", { class: "rel" }, `${num(records.length - shown.length)} more records: export them`) : null);
}

export async function lookbackView(el, _segs, params, signal) {
  const v = {
    q: params.get("q") || "",
    format: params.get("format") || "",
    from: params.get("from") || "",
    to: params.get("to") || "",
    below: params.get("below") === "1",
    misses: params.get("misses") === "1",
  };
  let upload = null; // {name, text} of a chosen file, sent instead of the text
  const text = h("textarea", {
    id: "lookback-text", name: "q", rows: 8, spellcheck: "false",
    placeholder: "indicators, one a line: names, *.zones, addresses, prefixes, ranges (the first word of a line counts; # starts a comment; defanged forms accepted) — or a MISP event or STIX bundle as JSON",
  });
  text.value = v.q;
  const fileIn = h("input", { id: "lookback-file", type: "file", accept: ".txt,.csv,.json,.misp,.stix,text/plain,application/json" });
  const fileNote = h("span", { id: "lookback-file-note", class: "rel" });
  const clearFile = h("button", { type: "button", class: "link", hidden: true, onclick: () => {
    upload = null;
    fileIn.value = "";
    fileNote.textContent = "";
    clearFile.hidden = true;
  } }, "forget the file");
  fileIn.addEventListener("change", async () => {
    const f = fileIn.files[0];
    if (!f) return;
    upload = { name: f.name, text: await f.text() };
    fileNote.textContent = `${f.name} (${num(f.size)} bytes) will be sent instead of the text above; a file is not kept in the link`;
    clearFile.hidden = false;
  });
  const format = h("select", { name: "format" },
    [["", "sniff the format"], ["text", "plain text"], ["misp", "MISP event"], ["stix", "STIX 2.1 bundle"]].map(([val, label]) =>
      h("option", { value: val, selected: val === v.format }, label)));
  const below = h("input", { type: "checkbox", name: "below", checked: v.below });
  const misses = h("input", { type: "checkbox", name: "misses", checked: v.misses });
  const urlNote = h("p", { id: "lookback-url-note", class: "rel" });
  const body = h("div", { id: "lookback" });

  const options = (form) => {
    const fd = new FormData(form);
    return {
      format: fd.get("format") || "",
      from: (fd.get("from") || "").trim(),
      to: (fd.get("to") || "").trim(),
      below: below.checked ? "1" : "",
      misses: misses.checked ? "1" : "",
    };
  };
  const form = h("form", {
    class: "lookback",
    onsubmit: (e) => {
      e.preventDefault();
      const o = options(form);
      const input = upload ? upload.text : text.value;
      if (!input.trim()) {
        fill(body, h("p", { class: "error" }, "nothing to look up: paste indicators or choose a file"));
        return;
      }
      // the link keeps the parameters, and the pasted text while it is short enough
      const keepText = !upload && text.value.length <= MAX_URL_TEXT;
      const hash = `#/lookback${qs({ ...o, q: keepText ? text.value : "" })}`;
      urlNote.textContent = upload
        ? "the link to this view keeps the options, not the uploaded file"
        : keepText ? "" : `the pasted text (${num(text.value.length)} characters) is longer than ${num(MAX_URL_TEXT)}: the link keeps the options only`;
      if (location.hash !== hash) history.replaceState(null, "", hash);
      run(input, o);
    },
  },
  h("h1", {}, "Lookback"),
  h("p", { class: "summary" }, "Every stored match of a batch of indicators, over the whole history or a window."),
  text,
  h("div", { class: "filters" },
    h("label", {}, "or upload ", fileIn), fileNote, clearFile),
  h("div", { class: "filters" },
    h("label", {}, "Format ", format),
    field("from", "From", v.from, "YYYY-MM-DD or -90d"),
    field("to", "To", v.to, "YYYY-MM-DD"),
    h("label", { title: "a domain matches the names below it too" }, below, " names below domains"),
    h("label", { title: "list indicators without matches too" }, misses, " list misses"),
    h("button", { type: "submit", id: "lookback-run" }, "Run")),
  urlNote);
  fill(el, form, body);

  const run = async (input, o) => {
    loading(body, "matches");
    let r;
    try {
      r = await post("/api/v1/analytics/lookback", o, input, { signal });
    } catch (e) {
      showError(body, e);
      return;
    }
    render(r, input, o);
  };

  const render = (r, input, o) => {
    const exportMsg = h("span", { id: "lookback-export-status", class: "rel" });
    const exporter = (fmt) => async () => {
      exportMsg.textContent = `exporting ${fmt.toUpperCase()}…`;
      try {
        const saved = await download("POST", "/api/v1/analytics/lookback", { ...o, export: fmt },
          `lookback.${fmt === "csv" ? "csv" : `${fmt}.json`}`, { body: input, contentType: "text/plain", signal });
        exportMsg.textContent = `${fmt.toUpperCase()}: ${num(saved.bytes)} bytes saved`;
      } catch (e) {
        exportMsg.textContent = `${fmt.toUpperCase()} export failed: ${e.message}`;
      }
    };
    const ignored = Object.entries(r.ignored || {}).map(([k, n]) => `${k}: ${n}`).join(", ");
    const rows = (r.results || []).map((x) => {
      const detail = h("td", { colspan: 8 });
      const more = h("tr", { class: "detail", hidden: true }, detail);
      const toggle = h("button", { type: "button", class: "link", onclick: () => {
        more.hidden = !more.hidden;
        if (!more.hidden && !detail.firstChild) fill(detail, recordsTable(x.records || []));
        toggle.textContent = more.hidden ? `records ▸` : `records ▾`;
      } }, "records ▸");
      return [h("tr", { class: x.matches ? "" : "weak" },
        h("td", {}, x.kind === "domain" || x.kind === "ip" || x.kind === "cidr" || x.kind === "wildcard" ? searchLink(x.indicator) : x.indicator),
        h("td", {}, x.kind), h("td", { class: "rel" }, x.position),
        h("td", { class: "num" }, `${num(x.matches)}${x.limited ? "+" : ""}`), h("td", { class: "num" }, num(x.count)),
        timeCell(x.first_seen), timeCell(x.last_seen),
        h("td", {}, x.matches ? toggle : "")), more];
    });
    fill(body,
      h("p", { class: "summary", id: "lookback-summary" },
        `${num(r.indicators)} indicators read (${r.format}): ${num(r.hits)} matched, ${num(r.misses)} did not; ${num(r.matches)} matching records; ${num(r.scanned)} records read in ${num(r.elapsed_ms)} ms`),
      h("div", { class: "exports" }, "Export the matches: ",
        h("button", { type: "button", id: "lookback-csv", onclick: exporter("csv") }, "CSV"),
        h("button", { type: "button", id: "lookback-misp", onclick: exporter("misp") }, "MISP"),
        h("button", { type: "button", id: "lookback-stix", onclick: exporter("stix") }, "STIX"), exportMsg),
      notes(r),
      (r.rejected || []).length ? [
        h("h2", {}, `Rejected items (${num(r.rejected_count)})`),
        h("table", { class: "grid", id: "lookback-rejected" },
          h("thead", {}, h("tr", {}, h("th", {}, "Position"), h("th", {}, "Item"), h("th", {}, "Why"))),
          h("tbody", {}, r.rejected.map((x) => h("tr", {}, h("td", { class: "rel" }, x.position), h("td", { class: "rdata" }, x.item), h("td", {}, x.reason))))),
        r.rejected_count > r.rejected.length ? h("p", { class: "rel" }, `the first ${r.rejected.length} are listed`) : null,
      ] : null,
      ignored ? h("p", { class: "rel" }, `items of other types ignored: ${ignored}`) : null,
      h("h2", {}, "Matches per indicator"),
      h("table", { class: "grid", id: "lookback-results" },
        h("thead", {}, h("tr", {}, ["Indicator", "Kind", "Position", "Records", "Count", "First seen (UTC)", "Last seen (UTC)", ""].map((x) => h("th", {}, x)))),
        h("tbody", {}, rows)));
  };

  if (v.q.trim()) run(v.q, { format: v.format, from: v.from, to: v.to, below: v.below ? "1" : "", misses: v.misses ? "1" : "" });
}
