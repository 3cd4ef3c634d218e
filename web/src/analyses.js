// Views of the analyses that answer with tables: shared IP usage and co-hosted domains
// (#/shared/TARGET, #/cohosted/DOMAIN), newly observed domains (#/new), fast-flux scores
// (#/fastflux/TARGET) and ATT&CK detections (#/detect).
import { get } from "./api.js";
import { h, fill, utc, num, qs, notes, tabs, loading, showError, timeCell, searchLink } from "./util.js";

function table(id, headers, rows) {
  return h("table", { class: "grid", id }, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
}

/** A filter form whose fields become the route's query parameters. */
function filterForm(base, fields, values) {
  return h("form", {
    class: "filters",
    onsubmit: (e) => {
      e.preventDefault();
      location.hash = base + qs(Object.fromEntries(new FormData(e.target).entries()));
    },
  }, fields.map(([name, label, ph, size]) => h("label", {}, `${label} `, h("input", { name, value: values[name] || "", placeholder: ph, size: size || 12 }))),
  h("button", { type: "submit" }, "Apply"));
}

function evidenceCell(list) {
  return h("td", { class: "evidence" }, (list || []).slice(0, 3).map((e) =>
    h("div", { title: `${utc(e.time_first)} → ${utc(e.time_last)} ×${e.count}` }, `${e.rrname} ${e.rrtype} ${(e.rdata || []).join(" ")}`)),
  (list || []).length > 3 ? h("div", { class: "rel" }, `… ${list.length - 3} more`) : null);
}

function paramsOf(params, keys) {
  return Object.fromEntries(keys.map((k) => [k, params.get(k) || ""]));
}

export async function sharedView(el, segs, params, signal) {
  const cohosted = segs[0] === "cohosted";
  const target = decodeURIComponent(segs[1] || "");
  const v = paramsOf(params, ["from", "to", "fanout"]);
  const body = h("div", { id: "shared" });
  fill(el, tabs(target, cohosted ? "cohosted" : "shared"),
    filterForm(`#/${segs[0]}/${encodeURIComponent(target)}`, [["from", "From", "YYYY-MM-DD"], ["to", "To", "YYYY-MM-DD"], ["fanout", "Fan-out", "", 6]], v), body);
  loading(body, cohosted ? "co-hosted domains" : "shared IP usage");
  let r;
  try {
    r = await get(`/api/v1/analytics/${segs[0]}/${encodeURIComponent(target)}`, { ...v, limit: 1000 }, { signal });
  } catch (e) {
    showError(body, e);
    return;
  }
  const addresses = r.addresses || [];
  fill(body, 
    h("p", { class: "summary" }, `${(r.domains || []).length} registered domains on ${addresses.length} addresses`),
    addresses.length ? h("details", {}, h("summary", {}, "Addresses"), table("shared-addresses", ["Address", "Domains", "Shared infrastructure", "ASN"],
      addresses.map((a) => h("tr", { class: a.shared || a.fanout_exceeded ? "weak" : "" }, h("td", {}, searchLink(a.address)), h("td", { class: "num" }, num(a.domains)),
        h("td", {}, [a.shared, a.fanout_exceeded ? "fan-out exceeded: not followed" : ""].filter(Boolean).join("; ")),
        h("td", {}, a.asn ? `AS${a.asn} ${a.as_org || ""}` : ""))))) : null,
    table("shared-domains", ["Domain", "Names", "Addresses", "Count", "First seen (UTC)", "Last seen (UTC)", "Evidence"],
      (r.domains || []).map((d) => h("tr", {},
        h("td", {}, searchLink(d.domain)),
        h("td", {}, (d.names || []).slice(0, 5).map((n) => h("div", {}, searchLink(n)))),
        h("td", {}, (d.addresses || []).slice(0, 5).map((a) => h("div", {}, a))),
        h("td", { class: "num" }, num(d.count)), timeCell(d.time_first), timeCell(d.time_last), evidenceCell(d.evidence)))),
    notes(r));
}

export async function newView(el, _segs, params, signal) {
  const v = paramsOf(params, ["since", "until", "level"]);
  if (!v.since) v.since = "-30d";
  const body = h("div", { id: "new" });
  fill(el, h("h1", {}, "Newly observed domains"),
    filterForm("#/new", [["since", "Since", "YYYY-MM-DD or -30d"], ["until", "Until", "YYYY-MM-DD"], ["level", "Level", "domain|hostname", 9]], v), body);
  loading(body, "newly observed domains");
  let r;
  try {
    r = await get("/api/v1/analytics/new", { ...v, limit: 1000 }, { signal });
  } catch (e) {
    showError(body, e);
    return;
  }
  fill(body, h("p", { class: "summary" }, `${r.items.length} ${r.level === "hostname" ? "names" : "registered domains"} first seen in the window`),
    table("new-items", ["Name", "First seen (UTC)", "Last seen (UTC)", "Names", "Sample", "Evidence"],
      r.items.map((x) => h("tr", {}, h("td", {}, searchLink(x.name)), timeCell(x.first_seen), timeCell(x.last_seen), h("td", { class: "num" }, num(x.names)),
        h("td", {}, (x.sample || []).slice(0, 3).map((n) => h("div", {}, searchLink(n)))), evidenceCell(x.evidence)))),
    notes(r));
}

export async function fastfluxView(el, segs, params, signal) {
  const target = decodeURIComponent(segs[1] || "");
  const v = paramsOf(params, ["from", "to"]);
  const body = h("div", { id: "fastflux" });
  fill(el, tabs(target, "fastflux"), filterForm(`#/fastflux/${encodeURIComponent(target)}`, [["from", "From", "YYYY-MM-DD"], ["to", "To", "YYYY-MM-DD"]], v), body);
  loading(body, "fast-flux score");
  let r;
  try {
    r = await get(`/api/v1/analytics/fastflux/${encodeURIComponent(target)}`, { ...v, limit: 1000 }, { signal });
  } catch (e) {
    showError(body, e);
    return;
  }
  const f = r.features || {};
  fill(body, 
    h("p", { class: `verdict ${r.verdict}`, id: "flux-verdict" }, `score ${r.score.toFixed(3)} — ${r.verdict}`),
    h("p", { class: "summary" }, `${num(f.addresses)} addresses in ${num(f.prefixes)} prefixes, ${f.asns ?? "unknown"} ASNs, TTL ${f.ttl_min}–${f.ttl_max}, active on ${num(f.active_days)} days`),
    table("flux-factors", ["Factor", "Value", "Score", "Weight", "Basis"],
      (r.factors || []).map((x) => h("tr", {}, h("td", {}, x.factor), h("td", { class: "num" }, x.value === null ? "" : Number(x.value).toFixed(2)),
        h("td", { class: "num" }, x.score === null ? "" : Number(x.score).toFixed(3)), h("td", { class: "num" }, x.weight), h("td", { class: "rel" }, x.basis)))),
    h("h2", {}, "Addresses"),
    table("flux-addresses", ["Address", "Prefix", "ASN", "Country", "First (UTC)", "Last (UTC)", "Days", "Other names"],
      (r.addresses || []).map((a) => h("tr", {}, h("td", {}, searchLink(a.address)), h("td", {}, a.prefix), h("td", {}, a.asn ? `AS${a.asn}` : ""), h("td", {}, a.country || ""),
        timeCell(a.first), timeCell(a.last), h("td", { class: "num" }, num(a.active_days)), h("td", { class: "num" }, num(a.other_names))))),
    notes(r));
}

export async function detectView(el, _segs, params, signal) {
  const v = paramsOf(params, ["since", "until", "kind", "min_score"]);
  if (!v.since) v.since = "-30d";
  const body = h("div", { id: "detect" });
  fill(el, h("h1", {}, "ATT&CK detections"),
    filterForm("#/detect", [["since", "Since", "YYYY-MM-DD or -30d"], ["until", "Until", "YYYY-MM-DD"], ["kind", "Kinds", "all", 18], ["min_score", "Min score", "0–1", 5]], v), body);
  loading(body, "detections");
  let r;
  try {
    r = await get("/api/v1/analytics/detect", { ...v, limit: 1000 }, { signal });
  } catch (e) {
    showError(body, e);
    return;
  }
  const counts = Object.entries(r.counts || {}).map(([k, n]) => `${k}: ${n}`).join(", ");
  fill(body, h("p", { class: "summary" }, `${r.detections.length} detections over ${num(r.domains)} domains${counts ? ` (${counts})` : ""}`),
    table("detections", ["Technique", "Kind", "Domain", "Score", "Reasons", "First (UTC)", "Last (UTC)", "Evidence"],
      r.detections.map((d) => h("tr", {}, h("td", { title: d.technique_name }, d.technique, h("div", { class: "rel" }, d.technique_name)), h("td", {}, d.kind),
        h("td", {}, searchLink(d.domain), h("div", {}, h("a", { href: `#/graph${qs({ seed: d.domain })}`, class: "rel" }, "graph"))),
        h("td", { class: "num" }, d.score.toFixed(2)), h("td", {}, (d.reasons || []).map((x) => h("div", {}, x))),
        timeCell(d.time_first), timeCell(d.time_last), evidenceCell(d.evidence)))),
    notes(r));
}
