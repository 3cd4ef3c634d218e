// DOM and formatting helpers shared by the views.
import { ApiError } from "./api.js";
import { classify } from "./search.js";

/** Creates an element: h("a", {href: "#/x", class: "c", onclick}, "text", child...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces the children of `el` (null, undefined and false left out). */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

/** Epoch seconds as `YYYY-MM-DD HH:MM:SSZ` (UTC). */
export function utc(ts) {
  if (ts === undefined || ts === null) return "";
  return new Date(ts * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const UNITS = [
  ["year", 365 * 86400],
  ["month", 30 * 86400],
  ["week", 7 * 86400],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/** Epoch seconds relative to now ("3 months ago"). */
export function relative(ts, now = Date.now() / 1000) {
  if (ts === undefined || ts === null) return "";
  const d = ts - now;
  for (const [unit, secs] of UNITS) {
    if (Math.abs(d) >= secs || unit === "second") return rtf.format(Math.round(d / secs), unit);
  }
  return "";
}

/** A time cell: UTC, with the relative time under it. */
export function timeCell(ts) {
  return h("td", { class: "time", title: ts ? `${ts} (epoch seconds)` : "" }, utc(ts), h("div", { class: "rel" }, relative(ts)));
}

/** Thousands separators. */
export function num(n) {
  return n === undefined || n === null ? "" : Number(n).toLocaleString("en-US");
}

/** A link that searches `value`. */
export function searchLink(value) {
  const v = String(value).replace(/\.$/, "");
  return h("a", { href: `#/search/${encodeURIComponent(v)}`, class: "pivot" }, value);
}

/** Hash-route parameters as a query string (empty values dropped). */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const x of Array.isArray(v) ? v : [v]) if (x !== undefined && x !== null && x !== "") p.append(k, x);
  }
  const s = p.toString();
  return s ? "?" + s : "";
}

/** Notes and limits an analysis answered with. */
export function notes(r) {
  const list = [...(r.notes || [])];
  if (r.limited) list.unshift("the answer was limited (see the notes; raise limit or max_scanned)");
  return list.length ? h("ul", { class: "notes" }, list.map((n) => h("li", {}, n))) : null;
}

/** Tabs of the views about one indicator. */
export function tabs(value, active) {
  const item = classify(value);
  const v = encodeURIComponent(item.value);
  const all = {
    resolutions: ["Resolutions", `#/search/${v}`],
    timeline: ["Timeline", `#/timeline/${v}`],
    graph: ["Graph", `#/graph${qs({ seed: item.value })}`],
    shared: ["Shared IP usage", `#/shared/${v}`],
    cohosted: ["Co-hosted", `#/cohosted/${v}`],
    fastflux: ["Fast-flux", `#/fastflux/${v}`],
    dormancy: ["Dormancy", `#/dormancy/${v}`],
  };
  const which = {
    name: ["resolutions", "timeline", "graph", "cohosted", "fastflux", "dormancy"],
    wildcard: ["resolutions", "timeline", "fastflux"],
    ip: ["resolutions", "shared", "graph", "fastflux"],
    cidr: ["resolutions", "shared", "fastflux"],
    asn: ["shared"],
  }[item.kind] || [];
  return h("div", { class: "tabs" },
    h("span", { class: "indicator" }, item.value),
    which.map((k) => h("a", { href: all[k][1], class: k === active ? "active" : "" }, all[k][0])));
}

/** A loading line, replaced by the view or an error. */
export function loading(el, what) {
  fill(el, h("p", { class: "loading" }, `loading ${what}…`));
}

/** Shows an error in `el` (a 401 has already sent the user to the login view). */
export function showError(el, e) {
  if (e.name === "AbortError") return;
  if (e instanceof ApiError && e.status === 401) return;
  fill(el, h("p", { class: "error", role: "alert" }, e.message));
}

