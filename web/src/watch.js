// The watchlist views: #/watch lists the watchlists, their sinks and the alerts
// (filterable by list, kind and time); #/watch/NAME edits one list (description, alert kinds,
// sinks, entries added and removed) and shows its alerts. Backed by /api/v1/watchlists and
// /api/v1/alerts; writing needs an admin key, which the server checks (403 otherwise).
import { get, put, del } from "./api.js";
import { h, fill, num, qs, utc, relative, loading, showError, searchLink } from "./util.js";

/** The alert kinds a watchlist may ask for, as the API names them. */
export const KINDS = ["first_match", "new_resolution", "ip_new_name"];
const KIND_TEXT = {
  first_match: "first match: a watched name or address in a record never stored before",
  new_resolution: "new resolution: a watched name resolves to data it never had",
  ip_new_name: "new name on a watched address",
  detection: "an ATT&CK detection of a scheduled run",
};

/** The alerts table, filtered by list, kind and time (by the API, before its limit). */
async function alertsSection(el, { watchlist, kind, since, limit, listField }, signal, base) {
  const list = h("div", { id: "alerts" });
  const kindSel = h("select", { name: "kind" }, [["", "any kind"], ...[...KINDS, "detection"].map((k) => [k, k])].map(([val, label]) =>
    h("option", { value: val, selected: val === kind }, label)));
  const form = h("form", {
    class: "filters",
    onsubmit: (e) => {
      e.preventDefault();
      const fd = new FormData(e.target);
      location.hash = base + qs(Object.fromEntries([...fd.entries()].map(([k, v]) => [k, String(v).trim()])));
    },
  },
  listField ? h("label", {}, "List ", h("input", { name: "watchlist", value: watchlist, placeholder: "any", size: 12 })) : null,
  h("label", {}, "Kind ", kindSel),
  h("label", {}, "Since ", h("input", { name: "since", value: since, placeholder: "-7d or YYYY-MM-DD", size: 14 })),
  h("label", {}, "Newest ", h("input", { name: "limit", value: limit, placeholder: "100", size: 6 })),
  h("button", { type: "submit" }, "Apply"));
  el.append(h("h2", {}, "Alerts"), form, list);
  loading(list, "alerts");
  let r;
  try {
    r = await get("/api/v1/alerts", { watchlist: watchlist || "", kind: kind || "", since, limit }, { signal });
  } catch (e) {
    showError(list, e);
    return;
  }
  const alerts = (r.alerts || []).slice().reverse();
  fill(list,
    h("p", { class: "summary", id: "alerts-summary" },
      `${num(alerts.length)} alerts${kind ? ` of kind ${kind}` : ""}, newest first` +
      `${r.limited ? `; only the newest ${num(r.returned)} were returned: raise "Newest" or narrow the time` : ""}; from the ${r.source === "memory" ? "recent alerts kept in memory" : "alerts journal"}`),
    h("table", { class: "grid", id: "alerts-table" },
      h("thead", {}, h("tr", {}, ["Raised (UTC)", "List", "Kind", "Entry", "Matched", "Record", "First / last seen (UTC)"].map((x) => h("th", {}, x)))),
      h("tbody", {}, alerts.map((a) => {
        const rec = a.record || {};
        return h("tr", {},
          h("td", { class: "time" }, utc(a.raised), h("div", { class: "rel" }, relative(a.raised))),
          h("td", {}, h("a", { href: `#/watch/${encodeURIComponent(a.watchlist)}` }, a.watchlist)),
          h("td", { title: KIND_TEXT[a.kind] || "" }, a.kind, a.technique ? h("div", { class: "rel" }, a.technique) : null),
          h("td", {}, a.entry, a.label ? h("div", { class: "rel" }, a.label) : null),
          h("td", {}, searchLink(a.matched), h("div", { class: "rel" }, `in ${a.matched_in}`)),
          h("td", { class: "rdata" }, h("a", { href: `#/search/${encodeURIComponent((rec.rrname || "").replace(/\.$/, ""))}` }, rec.rrname), ` ${rec.rrtype} `,
            (rec.rdata || []).join(" "),
            (a.new_rdata || []).length ? h("div", { class: "rel" }, `new: ${a.new_rdata.join(" ")}`) : null,
            (a.reasons || []).map((x) => h("div", { class: "rel" }, x))),
          h("td", { class: "time" }, utc(rec.time_first), h("div", {}, utc(rec.time_last))));
      }))));
}

async function indexView(el, params, signal) {
  const body = h("div", { id: "watchlists" });
  const nameIn = h("input", { id: "new-list", placeholder: "name (letters, digits, . _ -)", size: 24 });
  fill(el, h("h1", {}, "Watchlists"),
    h("form", { class: "filters", onsubmit: (e) => {
      e.preventDefault();
      const n = nameIn.value.trim();
      if (n) location.hash = `#/watch/${encodeURIComponent(n)}?new=1`;
    } }, nameIn, h("button", { type: "submit", id: "create-list" }, "New watchlist")),
    body);
  loading(body, "watchlists");
  let r;
  try {
    r = await get("/api/v1/watchlists", {}, { signal });
  } catch (e) {
    showError(body, e);
    return;
  }
  const lists = r.watchlists || [];
  fill(body,
    h("table", { class: "grid", id: "watchlists-table" },
      h("thead", {}, h("tr", {}, ["Name", "Description", "Entries", "Alert kinds", "Sinks"].map((x) => h("th", {}, x)))),
      h("tbody", {}, lists.map((l) => h("tr", {},
        h("td", {}, h("a", { href: `#/watch/${encodeURIComponent(l.name)}` }, l.name)),
        h("td", {}, l.description || ""), h("td", { class: "num" }, num(l.entries)),
        h("td", {}, (l.kinds || []).join(", ")), h("td", {}, (l.sinks || []).join(", ") || "all"))))),
    lists.length ? null : h("p", { class: "summary" }, "no watchlists yet"),
    (r.errors || []).length ? h("ul", { class: "notes" }, r.errors.map((x) => h("li", {}, typeof x === "string" ? x : JSON.stringify(x)))) : null,
    h("details", {}, h("summary", {}, `Sinks (${(r.sinks || []).length}); ${num(r.alerts_raised)} alerts raised since the server started`),
      h("table", { class: "grid", id: "sinks" },
        h("thead", {}, h("tr", {}, ["Sink", "Kind", "Raised", "Delivered", "Dropped", "Errors"].map((x) => h("th", {}, x)))),
        h("tbody", {}, (r.sinks || []).map((s) => h("tr", {}, h("td", {}, s.name), h("td", {}, s.kind),
          ["raised", "delivered", "dropped", "errors"].map((k) => h("td", { class: "num" }, num(s[k])))))))));
  const a = h("div", {});
  body.append(a);
  await alertsSection(a, {
    listField: true, watchlist: params.get("watchlist") || "", kind: params.get("kind") || "", since: params.get("since") || "", limit: params.get("limit") || "",
  }, signal, "#/watch");
}

async function listView(el, name, params, signal) {
  const body = h("div", { id: "watchlist" });
  const back = h("a", { href: "#/watch" }, "‹ all watchlists");
  fill(el, back, h("h1", {}, `Watchlist ${name}`), body);
  loading(body, "the watchlist");
  let doc;
  let exists = true;
  try {
    doc = await get(`/api/v1/watchlists/${encodeURIComponent(name)}`, {}, { signal });
  } catch (e) {
    if (e.status !== 404) {
      showError(body, e);
      return;
    }
    exists = false;
    doc = { name, entries: [], kinds: [...KINDS], sinks: [] };
  }
  let sinksKnown = [];
  try {
    sinksKnown = ((await get("/api/v1/watchlists", {}, { signal })).sinks || []).map((s) => s.name);
  } catch {
    // the editor works without the names of the sinks
  }
  const entries = (doc.entries || []).map((e) => ({ value: e.value, label: e.label || "" }));
  const msg = h("p", { id: "watch-msg", role: "status" });
  const desc = h("input", { id: "watch-description", value: doc.description || "", placeholder: "what it is for", size: 50 });
  const kinds = KINDS.map((k) => h("input", { type: "checkbox", value: k, checked: (doc.kinds || KINDS).includes(k) }));
  const sinks = h("input", { id: "watch-sinks", value: (doc.sinks || []).join(", "), placeholder: "all configured sinks", size: 30,
    title: sinksKnown.length ? `configured: ${sinksKnown.join(", ")}` : "" });
  const tbody = h("tbody", {});
  const count = h("span", { class: "rel", id: "entry-count" });
  const drawEntries = () => {
    count.textContent = `${num(entries.length)} entries`;
    fill(tbody, entries.map((e, i) => h("tr", {},
      h("td", {}, searchLink(e.value)),
      h("td", {}, h("input", { value: e.label, size: 24, placeholder: "label", "aria-label": `label of ${e.value}`, oninput: (ev) => (e.label = ev.target.value) })),
      h("td", {}, h("button", { type: "button", class: "link remove", onclick: () => {
        entries.splice(i, 1);
        drawEntries();
      } }, "remove")))));
  };
  const addValues = h("textarea", { id: "watch-add", rows: 2, placeholder: "names, *.zones, addresses, prefixes or ranges: one a line (or separated by spaces or commas)", spellcheck: "false" });
  const addLabel = h("input", { id: "watch-add-label", placeholder: "label (optional)", size: 18 });
  const add = () => {
    const have = new Set(entries.map((e) => e.value));
    for (const v of addValues.value.split(/[\s,;]+/).map((x) => x.trim().replace(/\[\.\]/g, ".")).filter(Boolean)) {
      if (!have.has(v)) entries.push({ value: v, label: addLabel.value.trim() });
      have.add(v);
    }
    addValues.value = "";
    addLabel.value = "";
    drawEntries();
  };
  const save = async () => {
    const out = {
      name,
      description: desc.value.trim() || undefined,
      kinds: kinds.filter((c) => c.checked).map((c) => c.value),
      sinks: sinks.value.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean),
      entries: entries.map((e) => (e.label.trim() ? { value: e.value, label: e.label.trim() } : { value: e.value })),
    };
    msg.className = "";
    msg.textContent = "saving…";
    try {
      const r = await put(`/api/v1/watchlists/${encodeURIComponent(name)}`, out);
      msg.textContent = `${r.created ? "created" : "saved"}: ${num(r.entries)} entries, in force now`;
      if (!exists || params.get("new")) history.replaceState(null, "", `#/watch/${encodeURIComponent(name)}`);
      exists = true;
      remove.hidden = false;
    } catch (e) {
      msg.className = "error";
      msg.textContent = e.message;
    }
  };
  const remove = h("button", { type: "button", id: "watch-delete", hidden: !exists, onclick: async () => {
    if (!confirm(`Delete the watchlist ${name}?`)) return;
    try {
      await del(`/api/v1/watchlists/${encodeURIComponent(name)}`);
      location.hash = "#/watch";
    } catch (e) {
      msg.className = "error";
      msg.textContent = e.message;
    }
  } }, "Delete");
  drawEntries();
  fill(body,
    exists ? null : h("p", { class: "summary" }, "A new watchlist: add entries and save to create it."),
    h("div", { class: "filters" }, h("label", {}, "Description ", desc)),
    h("div", { class: "filters" }, "Alert on: ", kinds.map((c) => h("label", { title: KIND_TEXT[c.value] }, c, ` ${c.value}`))),
    h("div", { class: "filters" }, h("label", {}, "Sinks ", sinks), sinksKnown.length ? h("span", { class: "rel" }, `configured: ${sinksKnown.join(", ")}`) : null),
    h("h2", {}, "Entries ", count),
    h("div", { class: "filters" }, addValues, addLabel, h("button", { type: "button", id: "watch-add-button", onclick: add }, "Add")),
    h("table", { class: "grid", id: "watch-entries" }, h("thead", {}, h("tr", {}, h("th", {}, "Value"), h("th", {}, "Label"), h("th", {}, ""))), tbody),
    h("div", { class: "filters" }, h("button", { type: "button", id: "watch-save", onclick: save }, exists ? "Save" : "Create"), remove),
    msg);
  if (exists) {
    const a = h("div", {});
    body.append(a);
    await alertsSection(a, { listField: false, watchlist: name, kind: params.get("kind") || "", since: params.get("since") || "", limit: params.get("limit") || "" },
      signal, `#/watch/${encodeURIComponent(name)}`);
  }
}

export async function watchView(el, segs, params, signal) {
  const name = decodeURIComponent(segs[1] || "");
  if (name) await listView(el, name, params, signal);
  else await indexView(el, params, signal);
}
