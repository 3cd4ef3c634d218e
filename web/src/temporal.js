// Views of the temporal analyses: dormancy of a name (#/dormancy/NAME: activity periods,
// silences longer than the gap and what ended them, bursts of new names) and domains revived
// after a silence within a window (#/revived?since=&until=&gap=).
import { get } from "./api.js";
import { h, fill, num, qs, utc, notes, tabs, loading, showError, timeCell, searchLink } from "./util.js";

function table(id, headers, rows) {
  return h("table", { class: "grid", id }, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
}

function form(base, fields, values) {
  return h("form", {
    class: "filters",
    onsubmit: (e) => {
      e.preventDefault();
      location.hash = base + qs(Object.fromEntries([...new FormData(e.target).entries()].map(([k, v]) => [k, String(v).trim()])));
    },
  }, fields.map(([name, label, ph, size]) => h("label", {}, `${label} `, h("input", { name, value: values[name] || "", placeholder: ph, size: size || 12 }))),
  h("button", { type: "submit" }, "Apply"));
}

function evidence(list) {
  return h("td", { class: "evidence" }, (list || []).slice(0, 3).map((e) =>
    h("div", { title: `${utc(e.time_first)} → ${utc(e.time_last)} ×${e.count}` }, `${e.rrname} ${e.rrtype} ${(e.rdata || []).join(" ")}`)),
  (list || []).length > 3 ? h("div", { class: "rel" }, `… ${list.length - 3} more`) : null);
}

function day(ts) {
  return utc(ts).slice(0, 10);
}

/** `n` and `word`, plural unless n is 1. */
function n(count, word) {
  return `${num(count)} ${word}${count === 1 ? "" : "s"}`;
}

function pick(params, keys) {
  return Object.fromEntries(keys.map((k) => [k, params.get(k) || ""]));
}

export async function dormancyView(el, segs, params, signal) {
  const name = decodeURIComponent(segs[1] || "");
  const v = pick(params, ["gap", "level", "burst_factor", "burst_min"]);
  const body = h("div", { id: "dormancy" });
  fill(el, tabs(name, "dormancy"),
    form(`#/dormancy/${encodeURIComponent(name)}`, [["gap", "Gap", "90d", 6], ["level", "Level", "domain|hostname", 9], ["burst_factor", "Burst factor", "", 5], ["burst_min", "Burst min", "", 5]], v),
    body);
  loading(body, "dormancy");
  let r;
  try {
    r = await get(`/api/v1/analytics/dormancy/${encodeURIComponent(name)}`, v, { signal });
  } catch (e) {
    showError(body, e);
    return;
  }
  fill(body,
    h("p", { class: "summary", id: "dormancy-summary" },
      `${r.subject}: ${n(r.records, "record")} of ${n(r.names, "name")}, active on ${n(r.active_days, "day")}` +
      (r.first_seen ? ` between ${day(r.first_seen)} and ${day(r.last_seen)}` : "") +
      `; ${n((r.gaps || []).length, "silence")} of more than ${r.gap_days} days, ${n((r.bursts || []).length, "burst")} of new names`),
    h("h2", {}, "Silences and revivals"),
    table("dormancy-gaps", ["Silent from (UTC)", "Revived (UTC)", "Days", "Before", "After"],
      (r.gaps || []).map((g) => h("tr", {}, timeCell(g.silent_from), timeCell(g.revived_at), h("td", { class: "num" }, num(g.days)), evidence(g.before), evidence(g.after)))),
    h("h2", {}, "Bursts of new names"),
    table("dormancy-bursts", ["Day", "New names", "Baseline", "Sample", "Evidence"],
      (r.bursts || []).map((b) => h("tr", {}, h("td", { class: "time" }, day(b.day)), h("td", { class: "num" }, num(b.new_names)),
        h("td", { class: "num" }, Number(b.baseline).toFixed(1)), h("td", {}, (b.sample || []).slice(0, 5).map((n) => h("div", {}, searchLink(n)))), evidence(b.evidence)))),
    h("details", {}, h("summary", {}, `Activity periods (${num((r.activity || []).length)})`),
      table("dormancy-activity", ["From", "To", "Days"],
        (r.activity || []).map((a) => h("tr", {}, h("td", {}, day(a.first)), h("td", {}, day(a.last)), h("td", { class: "num" }, num(a.days)))))),
    notes(r));
}

export async function revivedView(el, _segs, params, signal) {
  const v = pick(params, ["since", "until", "gap"]);
  if (!v.since) v.since = "-30d";
  const body = h("div", { id: "revived" });
  fill(el, h("h1", {}, "Revived domains"),
    form("#/revived", [["since", "Since", "YYYY-MM-DD or -30d"], ["until", "Until", "YYYY-MM-DD"], ["gap", "Silent for", "90d", 6]], v), body);
  loading(body, "revived domains");
  let r;
  try {
    r = await get("/api/v1/analytics/revived", { ...v, limit: 1000 }, { signal });
  } catch (e) {
    showError(body, e);
    return;
  }
  fill(body,
    h("p", { class: "summary" }, `${num(r.items.length)} registered domains came back after more than ${r.gap_days} days of silence`),
    table("revived-items", ["Domain", "Silent from (UTC)", "Revived (UTC)", "Gap (days)", "First seen", "Names", "Revivals", "Evidence"],
      r.items.map((x) => h("tr", {},
        h("td", {}, searchLink(x.domain), h("div", {}, h("a", { href: `#/dormancy/${encodeURIComponent(x.domain)}`, class: "rel" }, "dormancy"))),
        timeCell(x.silent_from), timeCell(x.revived_at), h("td", { class: "num" }, num(x.gap_days)), h("td", { class: "time" }, day(x.first_seen)),
        h("td", { class: "num" }, num(x.names)), h("td", { class: "num" }, num(x.revivals)), evidence(x.evidence)))),
    notes(r));
}
