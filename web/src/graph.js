// The pivot graph (#/graph?seed=S&seed=S...): the cluster analysis
// (/api/v1/analytics/cluster) drawn with Cytoscape.js. Domains, addresses, networks and name
// servers have their own shapes; shared infrastructure (CDN, parking, sinkhole, dynamic DNS,
// fan-out exceeded) is drawn grey and dashed, weak edges dashed; scores colour the nodes. Hover
// shows scores and evidence; a click on a node adds it as a seed and queries again.
import cytoscape from "cytoscape";
import { get } from "./api.js";
import { h, fill, utc, num, qs, notes, tabs, loading, showError } from "./util.js";

const SHAPES = { domain: "ellipse", ip: "round-rectangle", net: "hexagon", ns: "diamond", cname: "round-triangle" };
const COLORS = { domain: "#58a6ff", ip: "#3fb950", net: "#8b949e", ns: "#d29922", cname: "#bc8cff" };

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

function evidenceHtml(list) {
  return (list || []).slice(0, 6).map((e) => `<div class="ev">${esc(e.rrname)} ${esc(e.rrtype)} ${esc((e.rdata || []).join(" "))}<br><span class="rel">${utc(e.time_first)} → ${utc(e.time_last)}, ×${num(e.count)}</span></div>`).join("") +
    ((list || []).length > 6 ? `<div class="rel">… ${list.length - 6} more</div>` : "");
}

function nodeHtml(n) {
  const lines = [`<b>${esc(n.value)}</b> (${esc(n.kind)}${n.seed ? ", seed" : ""})`,
    `score ${n.score.toFixed(3)} · cluster ${n.cluster}`];
  if (n.shared) lines.push(`<span class="warn">shared infrastructure: ${esc(n.shared)}</span>`);
  if (n.fanout_exceeded) lines.push(`<span class="warn">fan-out exceeded (${num(n.domains)} domains): not followed</span>`);
  if (n.hostile) lines.push(`<span class="warn">hostile</span>`);
  if (n.kind !== "domain" && n.domains) lines.push(`${num(n.domains)} domains`);
  if (n.label) lines.push(`label: ${esc(n.label.kind || JSON.stringify(n.label))}`);
  if (n.names?.length) lines.push(`names: ${n.names.slice(0, 5).map(esc).join(", ")}${n.names.length > 5 ? " …" : ""}`);
  for (const c of (n.score_evidence || []).slice(0, 5)) lines.push(`from ${esc(c.value)}: ${(c.share ?? 0).toFixed(3)}`);
  lines.push(n.expanded ? "expanded" : "<i>click to expand</i>");
  return lines.join("<br>");
}

function edgeHtml(e, nodes) {
  return [`<b>${esc(nodes[e.source].value)}</b> → <b>${esc(nodes[e.target].value)}</b>`,
    `${esc(e.kind)} · weight ${e.weight.toFixed(3)}${e.weak ? " · <span class=\"warn\">weak (shared infrastructure)</span>" : ""}`,
    e.count ? `×${num(e.count)}${e.time_first ? `, ${utc(e.time_first)} → ${utc(e.time_last)}` : ""}` : "",
    evidenceHtml(e.evidence)].filter(Boolean).join("<br>");
}

export async function graphView(el, _segs, params, signal) {
  const seeds = params.getAll("seed").flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
  const hops = params.get("hops") || "";
  const from = params.get("from") || "";
  const to = params.get("to") || "";
  const link = (over) => `#/graph${qs({ seed: seeds, hops, from, to, ...over })}`;
  if (!seeds.length) {
    fill(el, h("p", {}, "The graph needs a seed: search a domain or an address and open its Graph tab."));
    return;
  }
  const body = h("div", { id: "graph-body" });
  const form = h("form", {
    class: "filters",
    onsubmit: (e) => {
      e.preventDefault();
      location.hash = link(Object.fromEntries(new FormData(e.target).entries()));
    },
  },
  h("span", { class: "seeds" }, "Seeds: ", seeds.map((s) => h("span", { class: "seed" }, s,
    seeds.length > 1 ? h("a", { href: link({ seed: seeds.filter((x) => x !== s) }), title: "remove this seed", class: "x" }, "×") : null))),
  h("label", {}, "Hops ", h("input", { name: "hops", value: hops, placeholder: "2", size: 3 })),
  h("label", {}, "From ", h("input", { name: "from", value: from, placeholder: "YYYY-MM-DD", size: 12 })),
  h("label", {}, "To ", h("input", { name: "to", value: to, placeholder: "YYYY-MM-DD", size: 12 })),
  h("button", { type: "submit" }, "Apply"));
  fill(el, seeds.length === 1 ? tabs(seeds[0], "graph") : null, form, body);
  loading(body, "graph");
  let r;
  try {
    r = await get("/api/v1/analytics/cluster", { seed: seeds, hops, from, to }, { signal });
  } catch (e) {
    showError(body, e);
    return;
  }
  const canvas = h("div", { id: "graph", class: "graph" });
  const tip = h("div", { class: "tip", hidden: true });
  const status = h("p", { id: "graph-status", class: "summary", dataset: { nodes: r.nodes.length, edges: r.edges.length } },
    `${r.nodes.length} nodes, ${r.edges.length} edges, ${r.clusters.length} clusters (modularity ${r.modularity}) — ${r.elapsed_ms} ms`);
  const legend = h("div", { class: "legend" },
    Object.entries(SHAPES).map(([k]) => h("span", {}, h("i", { class: `sw ${k}` }), k)),
    h("span", {}, h("i", { class: "sw shared" }), "shared infrastructure"),
    h("span", {}, h("i", { class: "sw weak" }), "weak edge"),
    h("span", {}, h("i", { class: "sw scored" }), "scored (label evidence)"));
  const clusters = h("div", { class: "clusters" }, h("h2", {}, "Clusters"),
    r.clusters.map((c) => h("div", { class: "cluster" },
      h("b", {}, `#${c.id}`), ` score ${c.score.toFixed(3)}`, c.has_seed ? " · seed" : "",
      c.malicious || c.suspicious ? h("span", { class: "warn" }, ` · ${c.malicious} malicious, ${c.suspicious} suspicious`) : "",
      h("div", { class: "rel" }, [...c.domains, ...c.nameservers].slice(0, 8).join(", "), c.domains.length + c.nameservers.length > 8 ? " …" : ""),
      h("div", { class: "rel" }, `${c.addresses.length} addresses`))));
  fill(body, status, legend, h("div", { class: "graph-wrap" }, canvas, clusters), tip, notes(r));

  const maxScore = Math.max(0.0001, ...r.nodes.map((n) => n.score));
  const cy = cytoscape({
    container: canvas,
    elements: [
      ...r.nodes.map((n) => ({
        data: { id: `n${n.id}`, label: n.value, kind: n.kind, score: n.score / maxScore },
        classes: [n.kind, n.seed ? "seed" : "", n.shared || n.fanout_exceeded ? "shared" : "", n.score > 0 ? "scored" : "", n.expanded ? "" : "open"].filter(Boolean).join(" "),
      })),
      ...r.edges.map((e, i) => ({ data: { id: `e${i}`, source: `n${e.source}`, target: `n${e.target}`, weight: e.weight }, classes: e.weak ? "weak" : "" })),
    ],
    style: [
      { selector: "node", style: { label: "data(label)", color: "#c9d1d9", "font-size": 9, "text-valign": "bottom", "text-margin-y": 3, width: 18, height: 18, "border-width": 1, "border-color": "#0d1117" } },
      ...Object.entries(SHAPES).map(([k, s]) => ({ selector: `node.${k}`, style: { shape: s, "background-color": COLORS[k] } })),
      { selector: "node.scored", style: { "background-color": "mapData(score, 0, 1, #d29922, #f85149)" } },
      { selector: "node.seed", style: { "border-width": 3, "border-color": "#f0f6fc", width: 26, height: 26 } },
      { selector: "node.shared", style: { "background-color": "#484f58", "border-style": "dashed", "border-width": 2, "border-color": "#8b949e" } },
      { selector: "edge", style: { width: "mapData(weight, 0, 1, 1, 4)", "line-color": "#6e7681", "curve-style": "haystack", opacity: 0.8 } },
      { selector: "edge.weak", style: { "line-style": "dashed", "line-color": "#484f58", "curve-style": "bezier" } },
      { selector: ":selected", style: { "border-color": "#f2cc60", "border-width": 3 } },
    ],
    layout: { name: "cose", animate: false, randomize: false, nodeRepulsion: () => 8000, idealEdgeLength: () => 60, padding: 20 },
    wheelSensitivity: 0.3,
  });
  // a handle for the end-to-end test and for the browser console
  window.dnsledgerGraph = cy;
  signal.addEventListener("abort", () => {
    cy.destroy();
    if (window.dnsledgerGraph === cy) delete window.dnsledgerGraph;
  });
  const show = (html, ev) => {
    tip.innerHTML = html;
    tip.hidden = false;
    const x = ev.originalEvent?.clientX ?? 0;
    const y = ev.originalEvent?.clientY ?? 0;
    tip.style.left = `${Math.min(x + 14, window.innerWidth - 380)}px`;
    tip.style.top = `${Math.min(y + 14, window.innerHeight - 200)}px`;
  };
  cy.on("mouseover", "node", (ev) => show(nodeHtml(r.nodes[Number(ev.target.id().slice(1))]), ev));
  cy.on("mouseover", "edge", (ev) => show(edgeHtml(r.edges[Number(ev.target.id().slice(1))], r.nodes), ev));
  cy.on("mouseout", () => (tip.hidden = true));
  cy.on("tap", "node", (ev) => {
    const n = r.nodes[Number(ev.target.id().slice(1))];
    if (n.kind === "net") return; // a network is not a seed the analysis takes
    const value = n.value;
    if (!seeds.includes(value)) location.hash = link({ seed: [...seeds, value] });
  });
}
