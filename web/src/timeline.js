// The timeline view (#/timeline/NAME): one bar per resolution from its first to its last
// sighting, and a heatmap of activity per record and time bucket, from
// /api/v1/analytics/timeline/{name}. Drawn with ECharts (custom and heatmap series).
import * as echarts from "echarts/core";
import { CustomChart, HeatmapChart } from "echarts/charts";
import { GridComponent, TooltipComponent, VisualMapComponent, DataZoomComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import { get } from "./api.js";
import { h, fill, utc, num, qs, notes, tabs, loading, showError } from "./util.js";

echarts.use([CustomChart, HeatmapChart, GridComponent, TooltipComponent, VisualMapComponent, DataZoomComponent, CanvasRenderer]);

const TEXT = "#c9d1d9";
const GRID_LINE = "#30363d";
const TYPE_COLORS = { A: "#58a6ff", AAAA: "#3fb950", CNAME: "#d29922", NS: "#bc8cff", MX: "#f778ba", TXT: "#8b949e", SOA: "#a5d6ff" };

function rowLabel(r, names) {
  const data = (r.rdata || []).join(" ");
  const short = data.length > 40 ? data.slice(0, 39) + "…" : data;
  return `${names > 1 ? r.name.replace(/\.$/, "") + " " : ""}${r.rrtype} ${short}`;
}

/** Disposes charts when the view is left. */
function track(signal, chart) {
  const resize = () => chart.resize();
  window.addEventListener("resize", resize);
  signal.addEventListener("abort", () => {
    window.removeEventListener("resize", resize);
    chart.dispose();
  });
}

export async function timelineView(el, segs, params, signal) {
  const name = decodeURIComponent(segs[1] || "");
  const type = params.get("type") || "";
  const bucket = params.get("bucket") || "";
  const after = params.get("after") || "";
  const before = params.get("before") || "";
  const link = (over) => `#/timeline/${encodeURIComponent(name)}${qs({ type, bucket, after, before, ...over })}`;
  const body = h("div", { id: "timeline" });
  const form = h("form", {
    class: "filters",
    onsubmit: (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      location.hash = link(Object.fromEntries(f.entries()));
    },
  },
  h("label", {}, "Type ", h("input", { name: "type", value: type, placeholder: "any", size: 8 })),
  h("label", {}, "After ", h("input", { name: "after", value: after, placeholder: "YYYY-MM-DD", size: 12 })),
  h("label", {}, "Before ", h("input", { name: "before", value: before, placeholder: "YYYY-MM-DD", size: 12 })),
  h("label", {}, "Bucket ", h("select", { name: "bucket" }, ["", "day", "week", "month"].map((b) => h("option", { value: b, selected: b === bucket }, b || "auto")))),
  h("button", { type: "submit" }, "Apply"));
  fill(el, tabs(name, "timeline"), form, body);
  loading(body, "timeline");
  let r;
  try {
    r = await get(`/api/v1/analytics/timeline/${encodeURIComponent(name)}`, { type, bucket, after, before, limit: 200 }, { signal });
  } catch (e) {
    showError(body, e);
    return;
  }
  const rows = r.rows || [];
  if (!rows.length) {
    fill(body, h("p", { id: "timeline-empty" }, `no activity of ${r.query} in the window`), notes(r));
    return;
  }
  const names = new Set(rows.map((x) => x.name)).size;
  const labels = rows.map((x) => rowLabel(x, names));
  const height = Math.max(160, rows.length * 24 + 70);
  const barsEl = h("div", { class: "chart", id: "timeline-bars", style: `height:${height}px` });
  const heatEl = h("div", { class: "chart", id: "timeline-heatmap", style: `height:${height + 30}px` });
  fill(body, 
    h("p", { class: "summary", id: "timeline-summary" }, `${rows.length} resolutions of ${r.query}, ${r.buckets.length} ${r.bucket} buckets`),
    h("h2", {}, "Resolutions over time"), barsEl,
    h("h2", {}, `Activity per ${r.bucket}`), h("p", { class: "meaning" }, r.meaning), heatEl, notes(r));

  const bars = echarts.init(barsEl, null, { renderer: "canvas" });
  track(signal, bars);
  const min = Math.min(...rows.map((x) => x.time_first)) * 1000;
  const max = Math.max(...rows.map((x) => x.time_last)) * 1000;
  const pad = Math.max(86400000, (max - min) * 0.02);
  bars.setOption({
    backgroundColor: "transparent",
    textStyle: { color: TEXT },
    grid: { left: 260, right: 30, top: 10, bottom: 50 },
    tooltip: {
      formatter: (p) => {
        const x = rows[p.value[0]];
        return `<b>${x.name}</b> ${x.rrtype} ${(x.rdata || []).join(" ")}<br>first ${utc(x.time_first)}<br>last ${utc(x.time_last)}<br>count ${num(x.count)}, active on ${x.active_days} days`;
      },
    },
    xAxis: { type: "time", min: min - pad, max: max + pad, axisLabel: { color: TEXT }, splitLine: { lineStyle: { color: GRID_LINE } } },
    yAxis: { type: "category", data: labels, inverse: true, axisLabel: { color: TEXT, width: 250, overflow: "truncate" } },
    dataZoom: [{ type: "inside", xAxisIndex: 0 }, { type: "slider", xAxisIndex: 0, height: 16, bottom: 8, textStyle: { color: TEXT } }],
    series: [{
      type: "custom",
      encode: { x: [1, 2], y: 0 },
      data: rows.map((x, i) => [i, x.time_first * 1000, Math.max(x.time_last * 1000, x.time_first * 1000)]),
      renderItem: (params, api) => {
        const y = api.value(0);
        const start = api.coord([api.value(1), y]);
        const end = api.coord([api.value(2), y]);
        const hgt = api.size([0, 1])[1] * 0.6;
        const rect = echarts.graphic.clipRectByRect(
          { x: start[0], y: start[1] - hgt / 2, width: Math.max(3, end[0] - start[0]), height: hgt },
          { x: params.coordSys.x, y: params.coordSys.y, width: params.coordSys.width, height: params.coordSys.height });
        return rect && { type: "rect", shape: rect, style: { fill: TYPE_COLORS[rows[y].rrtype] || "#8b949e" } };
      },
    }],
  });

  const heat = echarts.init(heatEl, null, { renderer: "canvas" });
  track(signal, heat);
  const data = [];
  let top = 1;
  rows.forEach((x, i) => (x.cells || []).forEach((v, j) => {
    if (v > 0) data.push([j, i, v]);
    top = Math.max(top, v);
  }));
  heat.setOption({
    backgroundColor: "transparent",
    textStyle: { color: TEXT },
    grid: { left: 260, right: 30, top: 10, bottom: 80 },
    tooltip: { formatter: (p) => `${labels[p.value[1]]}<br>${r.buckets[p.value[0]].label}: active on ${p.value[2]} days` },
    xAxis: { type: "category", data: r.buckets.map((b) => b.label), axisLabel: { color: TEXT }, splitArea: { show: false } },
    yAxis: { type: "category", data: labels, inverse: true, axisLabel: { color: TEXT, width: 250, overflow: "truncate" } },
    visualMap: { min: 0, max: top, calculable: true, orient: "horizontal", left: "center", bottom: 4, itemHeight: 120, textStyle: { color: TEXT }, inRange: { color: ["#0d2538", "#1f6feb", "#58a6ff", "#f2cc60"] } },
    series: [{ type: "heatmap", data, emphasis: { itemStyle: { borderColor: "#fff", borderWidth: 1 } } }],
  });
}
