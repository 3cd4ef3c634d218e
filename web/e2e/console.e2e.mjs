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
//   SCREENSHOT_DIR       where the screenshots go
//   CHROMIUM             the browser (default /usr/bin/chromium)
//
// Exits 1 with a message at the first failed check; a missing browser is a failure.
import { chromium } from "playwright-core";
import { existsSync, mkdirSync } from "node:fs";
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
  await page.click("#records th >> text=Count");
  await page.waitForURL(/sort=count/);
  await page.click("#records th >> text=Count");
  await page.waitForURL(/sort=-count/);
  await page.waitForSelector("#records tbody tr");
  const counts = await page.$$eval("#records tbody tr td:nth-child(6)", (tds) => tds.map((t) => Number(t.textContent.replace(/,/g, ""))));
  check(counts.every((c, i) => i === 0 || counts[i - 1] >= c), `sorted by count descending: ${counts.join(" ")}`);
  // a filter by rrtype goes to the API and into the URL
  await page.fill("form.filters input[name=type]", "A");
  await page.click("form.filters button");
  await page.waitForURL(/type=A/);
  await page.waitForSelector("#records tbody tr");
  const types = await page.$$eval("#records tbody tr td:nth-child(2)", (tds) => tds.map((t) => t.textContent));
  check(types.length > 0 && types.length < rows && types.every((t) => t === "A"), `type filter: ${types.join(" ")}`);
  // paging: one record per page; the next page is asked of the API (offset), never all at once
  await page.goto(`${base}/#/search/${encodeURIComponent(name)}?size=1`);
  await page.waitForSelector("#records tbody tr");
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

  check(errors.length === 0, `no errors in the page${errors.length ? ": " + errors.join("; ") : ""}`);
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.message}`);
  if (errors.length) console.error(errors.join("\n"));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
