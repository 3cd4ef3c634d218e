// The console's responsiveness with a large answer, in headless Chromium (started by
// bench/console.sh, which prints what it measured). Arguments: server URL, a name with many
// records, how many, page size. Each figure is wall time from the navigation (a hash change in
// the loaded app) to the table shown, in milliseconds; long tasks are main-thread tasks over
// 50 ms (PerformanceObserver 'longtask') while the step ran.
import { createRequire } from "node:module";

const require = createRequire(new URL("../web/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [base, name, records, sizeArg] = process.argv.slice(2);
const size = Number(sizeArg || 1000);
const total = Number(records);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
const results = {};
try {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, colorScheme: "dark" });
  await context.addInitScript(() => {
    window.__long = [];
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) window.__long.push(e.duration);
    }).observe({ type: "longtask", buffered: true });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(120000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${base}/#/`);
  await page.waitForSelector("#q");

  // one step: clear the long-task list, change the hash, wait for the table
  // first_rows_ms: the first rows are on screen; ms: the whole page is in the table
  const step = async (label, hash) => {
    await page.evaluate(() => (window.__long = []));
    // timed in the page (a MutationObserver), not by polling from here
    const { first, ms } = await page.evaluate((h) => new Promise((resolve) => {
      const t0 = performance.now();
      let first = null;
      const look = () => {
        const table = document.querySelector("#records");
        if (first === null && table?.querySelector("tbody tr")) first = performance.now() - t0;
        if (first !== null && table?.dataset.complete) {
          obs.disconnect();
          resolve({ first: Math.round(first), ms: Math.round(performance.now() - t0) });
        }
      };
      const obs = new MutationObserver(look);
      obs.observe(document.getElementById("main"), { childList: true, subtree: true, attributes: true, attributeFilter: ["data-complete"] });
      location.hash = h;
    }), hash);
    await page.waitForTimeout(100);
    const long = await page.evaluate(() => window.__long);
    const rows = await page.locator("#records tbody tr").count();
    results[label] = { first_rows_ms: first, ms, rows, long_tasks: long.length, longest_task_ms: Math.round(Math.max(0, ...long)) };
    console.error(`${label}: first rows ${first} ms, all ${rows} rows ${ms} ms, ${long.length} long tasks (longest ${results[label].longest_task_ms} ms)`);
  };
  // the API alone, for comparison: the same request the view makes, timed in the page
  const api = async (label, query) => {
    const ms = await page.evaluate(async (u) => {
      const t = performance.now();
      await (await fetch(u)).json();
      return Math.round(performance.now() - t);
    }, `/api/v1/lookup/rrset/name/${encodeURIComponent(name)}?${query}`);
    results[label] = { ms };
    console.error(`${label}: ${ms} ms`);
  };
  const enc = encodeURIComponent(name);
  await step("first_render_default_page", `#/search/${enc}`);
  await step("first_render", `#/search/${enc}?size=${size}`);
  const lastPage = Math.floor((total - 1) / size);
  await step("page_middle", `#/search/${enc}?size=${size}&page=${Math.floor(lastPage / 2)}`);
  await step("page_last", `#/search/${enc}?size=${size}&page=${lastPage}`);
  await step("sort_count_desc", `#/search/${enc}?size=${size}&page=${Math.floor(lastPage / 2)}&sort=-count`);
  await step("sort_data", `#/search/${enc}?size=${size}&sort=rdata`);
  await step("sensor_filter_page", `#/search/${enc}?size=${size}&sensor=bench-b&page=${Math.floor(lastPage / 4)}`);
  await api("api_first_page", `limit=${size}`);
  await api("api_last_page", `limit=${size}&offset=${lastPage * size}`);

  // scrolling the 1000-row page
  await page.evaluate(() => (window.__long = []));
  const t0 = Date.now();
  for (let i = 0; i < 60; i++) {
    await page.mouse.wheel(0, 600);
    await page.waitForTimeout(16);
  }
  const long = await page.evaluate(() => window.__long);
  results.scroll = { ms: Date.now() - t0, wheel_steps: 60, long_tasks: long.length, longest_task_ms: Math.round(Math.max(0, ...long)) };
  console.error(`scroll: ${long.length} long tasks (longest ${results.scroll.longest_task_ms} ms)`);

  // a whole-answer CSV export (up to the console's cap), fetched with the API's format=csv
  await page.evaluate(() => (window.__long = []));
  const e0 = Date.now();
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
  await dl.path();
  await page.waitForFunction(() => /saved|failed/.test(document.querySelector("#export-status").textContent));
  results.export_csv = { ms: Date.now() - e0, status: await page.textContent("#export-status") };
  console.error(`CSV export: ${results.export_csv.ms} ms: ${results.export_csv.status}`);
  if (errors.length) results.page_errors = errors;
} finally {
  await browser.close();
}
console.log(JSON.stringify({ name, records: total, page_size: size, results }, null, 2));
