// End-to-end test of the console in a real headless Chromium (Debian's, driven by
// playwright-core), against a running `dnsledger serve` with imported data. Started by
// crates/cli/tests/console.rs, which imports the data and passes what to expect:
//
//   DNSLEDGER_URL        the server (http://127.0.0.1:PORT)
//   E2E_API_KEY          a key the server accepts (the login view is tested first), or empty
//   E2E_NAME             the name to search
//   E2E_EXPECT           |-separated texts the resolutions table must show
//   E2E_EXPAND           a node of the name's graph to click (it becomes a seed)
//   E2E_SINCE            start of the window for the new-domains and detections views
//   E2E_DETECT           a domain the detections view must list
//   E2E_IP               an address for the shared-IP-usage view
//   E2E_SHARED           a domain that view must list
//   E2E_SENSOR           a sensor; E2E_SENSOR_SAW / E2E_SENSOR_NOT: data of E2E_NAME it saw / did not see
//   E2E_LOOKBACK         |-separated indicators a lookback must match
//   E2E_DORMANT          a domain silent longer than 90 days, then active again
//   E2E_REVIVED_SINCE    a time before its revival
//   E2E_WATCH            a watchlist entry (e.g. *.example.net); E2E_WATCH_HIT a new name it matches
//   SCREENSHOT_DIR       where the screenshots go
//   CHROMIUM             the browser (default /usr/bin/chromium)
//
// Exits 1 with a message at the first failed check; a missing browser is a failure.
import { chromium } from "playwright-core";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const base = env("DNSLEDGER_URL");
const key = env("E2E_API_KEY", "");
const name = env("E2E_NAME");
const expect = env("E2E_EXPECT").split("|").filter(Boolean);
const expand = env("E2E_EXPAND");
const since = env("E2E_SINCE");
const detectDomain = env("E2E_DETECT");
const ip = env("E2E_IP");
const sharedDomain = env("E2E_SHARED");
const sensor = env("E2E_SENSOR");
const sensorSaw = env("E2E_SENSOR_SAW");
const sensorNot = env("E2E_SENSOR_NOT");
const lookbackHits = env("E2E_LOOKBACK").split("|").filter(Boolean);
const dormant = env("E2E_DORMANT");
const revivedSince = env("E2E_REVIVED_SINCE");
const watchEntry = env("E2E_WATCH");
const watchHit = env("E2E_WATCH_HIT");
const shots = env("SCREENSHOT_DIR");
const executablePath = env("CHROMIUM", "/usr/bin/chromium");

function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
  console.log(`ok - ${msg}`);
}

if (!existsSync(executablePath)) {
  console.error(`FAIL: no browser at ${executablePath}: install Debian's chromium (scripts/deps.sh --test does)`);
  process.exit(1);
}
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const errors = [];
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, colorScheme: "dark" });
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 401/.test(m.text())) errors.push(`console error: ${m.text()}`);
  });
  const shot = async (file, p = page) => {
    const text = await p.textContent("#main");
    check(!/\b(null|undefined|NaN|\[object Object\])\b/.test(text), `${file}: no null/undefined/NaN shown`);
    await p.screenshot({ path: path.join(shots, file), fullPage: false });
    console.log(`screenshot ${path.join(shots, file)}`);
  };

  // Runs `go` (a navigation that rebuilds the view) and waits for the new records table: the
  // old one stays in the page until the view is rebuilt, and must not be read as the answer.
  const fresh = async (go, p = page) => {
    const old = await p.$("#records");
    await go();
    if (old) await p.waitForFunction((el) => !el.isConnected, old);
    await p.waitForSelector("#records tbody tr");
  };

  // 1. login: a deep link to a search answers 401, the console asks for the key, then goes on
  await page.goto(`${base}/#/search/${encodeURIComponent(name)}`);
  if (key) {
    await page.waitForURL(/#\/login/);
    await page.waitForSelector("#api-key");
    check(true, "a 401 from the API leads to the login view");
    await page.fill("#api-key", "dnsl_wrong_key_for_the_test");
    await page.click("form.login button");
    await page.waitForSelector("form.login .error:has-text('not accepted')");
    check(true, "a wrong key is refused");
    await shot("01-login.png");
    await page.fill("#api-key", key);
    await page.click("form.login button");
    await page.waitForURL(new RegExp(`#/search/${name.replace(/\./g, "\\.")}`));
    check(await page.evaluate(() => sessionStorage.getItem("dnsledger.apiKey") !== null), "the key is kept in sessionStorage");
  }

  // 2. search from the box
  await page.goto(`${base}/#/`);
  await page.fill("#q", name);
  await page.press("#q", "Enter");
  await page.waitForURL(new RegExp(`#/search/${name.replace(/\./g, "\\.")}$`));
  await page.waitForSelector("#records tbody tr");
  const tableText = await page.textContent("#records");
  for (const t of expect) check(tableText.includes(t), `the resolutions table shows ${t}`);
  const rows = await page.locator("#records tbody tr").count();
  check(rows > 0, `${rows} resolutions listed`);
  check(/UTC/.test(await page.textContent("#records thead")) && /ago/.test(tableText), "first/last seen in UTC and relative");
  await shot("02-resolutions.png");

  // sorting by count, descending (a deep link of its own)
  await fresh(async () => {
    await page.click("#records th >> text=Count");
    await page.waitForURL(/sort=count/);
  });
  await fresh(async () => {
    await page.click("#records th >> text=Count");
    await page.waitForURL(/sort=-count/);
  });
  const counts = await page.$$eval("#records tbody tr td:nth-child(6)", (tds) => tds.map((t) => Number(t.textContent.replace(/,/g, ""))));
  check(counts.every((c, i) => i === 0 || counts[i - 1] >= c), `sorted by count descending: ${counts.join(" ")}`);
  // the server sorts the whole answer: page 2 of one record per page is the second largest count
  if (counts.length > 1) {
    await fresh(() => page.goto(`${base}/#/search/${name}?sort=-count&size=1&page=1`));
    const second = await page.$$eval("#records tbody tr td:nth-child(6)", (tds) => tds.map((t) => Number(t.textContent.replace(/,/g, ""))));
    check(second.length === 1 && second[0] === counts[1], `page 2 of the sorted answer holds count ${counts[1]}: ${second.join(" ")}`);
    await fresh(() => page.goto(`${base}/#/search/${name}?sort=-count`));
  }
  // a filter by rrtype goes to the API and into the URL
  await page.fill("form.filters input[name=type]", "A");
  await fresh(async () => {
    await page.click("form.filters button");
    await page.waitForURL(/type=A/);
  });
  const types = await page.$$eval("#records tbody tr td:nth-child(2)", (tds) => tds.map((t) => t.textContent));
  check(types.length > 0 && types.length < rows && types.every((t) => t === "A"), `type filter: ${types.join(" ")}`);
  // paging: one record per page; the next page is asked of the API (offset), never all at once
  await fresh(() => page.goto(`${base}/#/search/${encodeURIComponent(name)}?size=1`));
  check((await page.locator("#records tbody tr").count()) === 1, "a page of one record");
  const first = await page.textContent("#records tbody tr");
  await page.click("#next");
  await page.waitForURL(/page=1/);
  await page.waitForSelector("#prev");
  const second = await page.textContent("#records tbody tr");
  check(second !== first && (await page.textContent("#status")).includes("records 2–2"), "the next page holds the next record");

  // 3. timeline
  await page.goto(`${base}/#/search/${encodeURIComponent(name)}`);
  await page.click(".tabs >> text=Timeline");
  await page.waitForURL(/#\/timeline\//);
  await page.waitForSelector("#timeline-bars canvas");
  await page.waitForSelector("#timeline-heatmap canvas");
  const summary = await page.textContent("#timeline-summary");
  check(/\d+ resolutions of/.test(summary), `timeline: ${summary}`);
  await page.waitForTimeout(500);
  await shot("03-timeline.png");

  // 4. graph, hover and expand
  await page.click(".tabs >> text=Graph");
  await page.waitForURL(/#\/graph\?seed=/);
  await page.waitForSelector("#graph-status");
  await page.waitForFunction(() => window.dnsledgerGraph && window.dnsledgerGraph.nodes().length > 0);
  const before = await page.evaluate(() => window.dnsledgerGraph.nodes().map((n) => n.data("label")));
  check(before.includes(expand), `the graph holds ${expand} (${before.length} nodes)`);
  await page.waitForTimeout(300);
  await shot("04-graph.png");
  const pos = await page.evaluate((label) => {
    const cy = window.dnsledgerGraph;
    const n = cy.nodes().filter((x) => x.data("label") === label)[0];
    const box = cy.container().getBoundingClientRect();
    const p = n.renderedPosition();
    return { x: box.left + p.x, y: box.top + p.y };
  }, expand);
  await page.mouse.move(pos.x, pos.y);
  await page.waitForSelector(".tip:not([hidden])");
  const tip = await page.textContent(".tip");
  check(tip.includes(expand) && tip.includes("score"), `hover shows the node's score: ${tip.slice(0, 80)}`);
  await shot("05-graph-hover.png");
  await page.mouse.click(pos.x, pos.y);
  await page.waitForURL(new RegExp(`seed=${encodeURIComponent(expand).replace(/\./g, "\\.")}`));
  // the graph is asked for again with the clicked node as an extra seed
  await page.waitForFunction((label) => window.dnsledgerGraph && window.dnsledgerGraph.nodes().some((n) => n.data("label") === label && n.hasClass("seed")), expand);
  const seeds = new URL(page.url().replace("#/graph", "")).searchParams.getAll("seed");
  check(seeds.length === 2 && seeds.includes(expand), `expanding ${expand} made it a seed beside the first: ${seeds.join(", ")}`);
  const seedTags = await page.$$eval(".seeds .seed", (s) => s.map((x) => x.textContent));
  check(seedTags.length === 2, `both seeds shown: ${seedTags.join(" ")}`);
  await page.waitForTimeout(300);
  await shot("06-graph-expanded.png");

  // 5. the analyses, opened by deep link in a fresh tab (the key is per tab: log in again)
  const tab = await context.newPage();
  tab.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  const open = async (hash, selector) => {
    await tab.goto(`${base}/${hash}`);
    await tab.waitForSelector(`${selector}, #api-key`);
    if (await tab.$("#api-key")) {
      await tab.fill("#api-key", key);
      await tab.click("form.login button");
    }
    await tab.waitForSelector(selector);
  };
  await open(`#/detect?since=${since}`, "#detections tbody tr");
  const det = await tab.textContent("#detections");
  check(det.includes(detectDomain) && /T15\d\d\.\d{3}/.test(det), `detections list ${detectDomain} with its technique`);
  await shot("07-detections.png", tab);
  await open(`#/new?since=${since}`, "#new-items tbody tr");
  check((await tab.locator("#new-items tbody tr").count()) > 0, "newly observed domains listed");
  await shot("08-new.png", tab);
  await open(`#/shared/${ip}`, "#shared-domains tbody tr");
  check((await tab.textContent("#shared-domains")).includes(sharedDomain), `shared IP usage of ${ip} lists ${sharedDomain}`);
  await shot("09-shared.png", tab);
  await open(`#/fastflux/${encodeURIComponent(name)}`, "#flux-verdict");
  check(/score \d/.test(await tab.textContent("#flux-verdict")), "fast-flux score shown");
  await shot("10-fastflux.png", tab);
  // a pasted list
  await tab.goto(`${base}/#/`);
  await tab.fill("#q", `${name}\n${ip}\nnot a name!`);
  await tab.click("#search button");
  await tab.waitForURL(/#\/list\?q=/);
  await tab.waitForFunction(() => [...document.querySelectorAll("#list tbody td:nth-child(3)")].every((t) => t.textContent !== "…"));
  const list = await tab.textContent("#list");
  check(list.includes("invalid") && list.includes(ip), "a pasted list is split and looked up");
  await shot("11-list.png", tab);
  // the list's valid indicators run as a lookback from the list view
  await tab.click("#list-lookback");
  await tab.waitForURL(/#\/lookback\?q=/);
  await tab.waitForSelector("#lookback-results tbody tr");
  const fromList = await tab.textContent("#lookback-results");
  check(fromList.includes(name) && fromList.includes(ip) && !(await tab.inputValue("#lookback-text")).includes("name!"),
    "the pasted list runs as a lookback (the invalid item left out)");

  // 6. the sensor filter is applied by the server, on the whole answer: paging walks the
  // filtered records
  await open(`#/search/${encodeURIComponent(name)}?sensor=${sensor}`, "#records tbody tr");
  const sensorText = await tab.textContent("#records tbody");
  const sensorCells = await tab.$$eval("#records tbody tr td:nth-child(8)", (tds) => tds.map((t) => t.textContent));
  check(sensorText.includes(sensorSaw) && !sensorText.includes(sensorNot) && sensorCells.every((c) => c.includes(sensor)),
    `sensor=${sensor}: ${sensorCells.length} records, all seen by it, ${sensorSaw} shown, ${sensorNot} not`);
  await shot("12-sensor-filter.png", tab);
  check(sensorCells.length > 1, "the sensor saw more than one record (the paging check below needs two pages)");
  await tab.goto(`${base}/#/search/${encodeURIComponent(name)}?sensor=${sensor}&size=1`);
  await tab.waitForSelector("#next");
  check((await tab.textContent("#records tbody")).includes(sensor), "page 1 of the filtered answer, with a next page");
  const n = sensorCells.length;
  await tab.goto(`${base}/#/search/${encodeURIComponent(name)}?sensor=${sensor}&size=1&page=${n - 1}`);
  await tab.waitForFunction((n) => (document.querySelector("#status")?.textContent || "").includes(`records ${n}–${n}`), n);
  check(!(await tab.$("#next")) && (await tab.textContent("#records tbody")).includes(sensor),
    `the last page of the filtered answer is page ${sensorCells.length} (the server counts filtered records)`);

  // 7. exports of the current query (fetched with the key, saved through a blob)
  await fresh(() => tab.goto(`${base}/#/search/${encodeURIComponent(name)}`), tab);
  const saved = async (button) => {
    const [dl] = await Promise.all([tab.waitForEvent("download"), tab.click(button)]);
    const file = await dl.path();
    await tab.waitForFunction(() => /saved|failed/.test(document.querySelector("#export-status, #lookback-export-status")?.textContent || ""));
    return { name: dl.suggestedFilename(), text: readFileSync(file, "utf8") };
  };
  const misp = await saved("#export-misp");
  const event = JSON.parse(misp.text).Event;
  check(misp.name.endsWith(".misp.json") && event && Array.isArray(event.Object) && event.Object.length === rows && misp.text.includes(expect[0]),
    `MISP export of ${name}: an event with ${event?.Object?.length} passive-dns objects`);
  const stix = JSON.parse((await saved("#export-stix")).text);
  check(stix.type === "bundle" && stix.objects.some((o) => JSON.stringify(o).includes(expect[0])), `STIX export: a bundle of ${stix.objects.length} objects`);
  const csvText = (await saved("#export-csv")).text;
  check(csvText.split("\n").filter((l) => l.includes(name)).length >= rows, "CSV export of the whole answer");
  check(/the whole answer/.test(await tab.textContent("#export-status")), "the export says it holds the whole answer");
  await shot("13-exports.png", tab);

  // 8. lookback: pasted indicators (one the parser rejects), then an uploaded STIX bundle
  await open("#/lookback", "#lookback-text");
  await tab.fill("#lookback-text", [...lookbackHits, "bad..example", "nomatch.example.org"].join("\n"));
  await tab.fill("form.lookback input[name=from]", "2024-01-01");
  await tab.click("#lookback-run");
  await tab.waitForSelector("#lookback-results tbody tr");
  const lb = await tab.textContent("#lookback-results");
  for (const x of lookbackHits) check(lb.includes(x), `lookback matched ${x}`);
  check(!lb.includes("nomatch.example.org"), "an indicator without matches is not listed (misses off)");
  const rejected = await tab.textContent("#lookback-rejected");
  check(rejected.includes("bad..example") && /line 3/.test(rejected), `the rejected item is shown with its position: ${rejected.trim().slice(0, 80)}`);
  check(/from=2024-01-01/.test(tab.url()) && /q=/.test(tab.url()), "the lookback's link keeps the window and the pasted list");
  await tab.click("#lookback-results tbody tr button");
  await tab.waitForSelector("#lookback-results tr.detail:not([hidden]) table tbody tr");
  await shot("14-lookback.png", tab);
  const lbMisp = JSON.parse((await saved("#lookback-misp")).text);
  check(lbMisp.Event && lbMisp.Event.Object.length > 0, `lookback MISP export: ${lbMisp.Event.Object.length} objects`);
  // the deep link runs the lookback again
  const link = tab.url();
  await tab.goto(`${base}/#/`);
  await tab.goto(link);
  await tab.waitForSelector("#lookback-results tbody tr");
  check((await tab.textContent("#lookback-summary")).includes(`${lookbackHits.length} matched`), "the deep link runs the same lookback");
  // upload
  const bundle = {
    type: "bundle",
    id: "bundle--6f0a5c3e-5b0e-4a51-9a7e-2f6d2d3c1a10",
    objects: [
      { type: "indicator", spec_version: "2.1", id: "indicator--0b8f3a55-1c1d-4d8e-9f57-1f7a3c2e6b11", pattern_type: "stix",
        pattern: `[domain-name:value = '${lookbackHits[0]}'] OR [ipv4-addr:value = '${ip}']` },
      { type: "indicator", spec_version: "2.1", id: "indicator--0b8f3a55-1c1d-4d8e-9f57-1f7a3c2e6b12", pattern_type: "stix",
        pattern: "[domain-name:value LIKE '%.example']" },
    ],
  };
  const upload = path.join(shots, "indicators.stix.json");
  writeFileSync(upload, JSON.stringify(bundle));
  await tab.goto(`${base}/#/lookback`);
  await tab.waitForSelector("#lookback-file");
  await tab.setInputFiles("#lookback-file", upload);
  await tab.waitForSelector("#lookback-file-note:has-text('will be sent')");
  await tab.click("#lookback-run");
  await tab.waitForSelector("#lookback-results tbody tr");
  const up = await tab.textContent("#lookback-summary");
  check(/\(stix\)/.test(up) && (await tab.textContent("#lookback-results")).includes(ip), `an uploaded STIX bundle: ${up}`);
  check((await tab.textContent("#lookback-rejected")).includes("LIKE"), "the bundle's unreadable pattern is listed as rejected");
  check(/uploaded file/.test(await tab.textContent("#lookback-url-note")), "the view says the link does not keep the file");
  await shot("15-lookback-upload.png", tab);

  // 9. watchlists: create, edit, then ingest a matching record and see the alert
  await open("#/watch", "#new-list");
  await tab.fill("#new-list", "e2e-case");
  await tab.click("#create-list");
  await tab.waitForSelector("#watch-save");
  await tab.fill("#watch-add", watchEntry);
  await tab.fill("#watch-add-label", "case-1");
  await tab.click("#watch-add-button");
  await tab.fill("#watch-description", "end-to-end test list");
  await tab.click("#watch-save");
  await tab.waitForSelector("#watch-msg:has-text('created')");
  check(true, `watchlist created with ${watchEntry}`);
  // edit: add two entries, remove one of them, save
  await tab.fill("#watch-add", "198.51.100.0/24 extra.example.org");
  await tab.click("#watch-add-button");
  check((await tab.textContent("#entry-count")).startsWith("3"), "three entries before the removal");
  await tab.click("#watch-entries tr:has-text('extra.example.org') button.remove");
  await tab.click("#watch-save");
  await tab.waitForSelector("#watch-msg:has-text('saved: 2 entries')");
  check(true, "the list was edited: 2 entries saved");
  await tab.goto(`${base}/#/watch`);
  await tab.waitForSelector("#watchlists-table tbody tr");
  check((await tab.textContent("#watchlists-table")).includes("e2e-case"), "the list is listed");
  // a record matching the list arrives after it was created
  const ts = Math.floor(Date.now() / 1000);
  const res = await fetch(`${base}/api/v1/observations?format=passivedns&sensor=e2e`, {
    method: "POST",
    headers: key ? { "X-API-Key": key } : {},
    body: `${ts}.000000||10.0.0.1||10.0.0.53||IN||${watchHit}.||A||192.0.2.99||300||1\n`,
  });
  check(res.ok, `ingested ${watchHit} (${res.status})`);
  await tab.goto(`${base}/#/watch/e2e-case`);
  await tab.waitForSelector("#alerts-table tbody tr");
  const alertText = await tab.textContent("#alerts-table");
  check(alertText.includes(watchHit) && alertText.includes("first_match") && alertText.includes("case-1"), `the alert for ${watchHit} is shown`);
  await shot("16-watchlist-alerts.png", tab);
  await tab.goto(`${base}/#/watch?kind=new_resolution`);
  await tab.waitForSelector("#alerts-summary");
  check((await tab.textContent("#alerts-summary")).includes("of kind new_resolution"), "alerts filtered by kind");
  await tab.goto(`${base}/#/watch/e2e-case`);
  await tab.click(`#alerts-table tbody tr:has-text('first_match') td:nth-child(5) a`);
  await tab.waitForURL(new RegExp(`#/search/${watchHit.replace(/\./g, "\\.")}`));
  await tab.waitForSelector("#records tbody tr");
  check((await tab.textContent("#records")).includes("192.0.2.99"), "an alert links to the search of what it matched");

  // 10. dormancy and revived domains
  await open(`#/dormancy/${dormant}`, "#dormancy-gaps");
  check((await tab.locator("#dormancy-gaps tbody tr").count()) > 0, `a silence of ${dormant} is listed`);
  await shot("17-dormancy.png", tab);
  await open(`#/revived?since=${revivedSince}`, "#revived-items");
  check((await tab.textContent("#revived-items")).includes(dormant), `${dormant} is among the revived domains`);
  await shot("18-revived.png", tab);

  check(errors.length === 0, `no errors in the page${errors.length ? ": " + errors.join("; ") : ""}`);
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.message}`);
  if (errors.length) console.error(errors.join("\n"));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
