// Loads a hopcheck index.html in headless Chromium and checks it as a
// person would use it: the matrix's rows and columns, a cell's panel with
// its transcript, the area, verdict and target filters, the profile
// switch, and links to a cell (index.html#<profile>/<target>/<case id>),
// loaded and followed. Saves a screenshot.
//
//   node check.mjs INDEX.html SCREENSHOT.png [--rows N] [--targets N] [--panel-text TEXT]
//   node check.mjs --measure INDEX.html   (size and load time only)
//
// Exits 0 when every check holds, 1 with the failed check on stderr.
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import puppeteer from "puppeteer-core";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const LIMIT_MS = Number(process.env.CHECK_TIMEOUT_MS || 120000);

const args = process.argv.slice(2);
const measure = args[0] === "--measure";
if (measure) args.shift();
const [indexPath, screenshotPath] = args;
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : undefined;
};
if (!indexPath || (!measure && !screenshotPath)) {
  console.error("usage: node check.mjs INDEX.html SCREENSHOT.png [--rows N] [--targets N] [--panel-text TEXT] | --measure INDEX.html");
  process.exit(2);
}

class CheckFailed extends Error {}
function expect(condition, what) {
  if (!condition) throw new CheckFailed(what);
  console.log("ok: " + what);
}

let browser;
const watchdog = setTimeout(async () => {
  console.error(`the check took longer than ${LIMIT_MS} ms`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}, LIMIT_MS);

async function counts(page) {
  return page.evaluate(() => ({
    rows: document.querySelectorAll("#matrix-body tr.case").length,
    columns: document.querySelectorAll("#matrix-head th").length - 1,
    fails: document.querySelectorAll("#matrix-body td.c.v-fail").length,
    // The first letter of each cell's verdict class, row by row: `p`, `f`, ...
    codes: [...document.querySelectorAll("#matrix-body tr.case")]
      .map((tr) => [...tr.querySelectorAll("td.c")].map((td) => (td.className.match(/v-(\w)/) || [0, "."])[1]).join(""))
      .join(""),
    profiles: [...document.querySelectorAll("section.summary")]
      .filter((s) => getComputedStyle(s).display !== "none")
      .map((s) => s.dataset.profile),
  }));
}

async function setChecked(page, selector, checked) {
  await page.$$eval(selector, (boxes, on) => {
    for (const box of boxes) {
      if (box.checked !== on) box.click();
    }
  }, checked);
}

// A cell's link, as the page writes it: #<profile>/<target>/<case id>.
function linkTo(data, profile, t, caseId) {
  return [profile, data.targets[t][0], ...caseId.split("/")].map(encodeURIComponent).join("/");
}

// What the page shows after following a link: the open panel's case and
// its line naming target and profile, the checked profile, and whether the
// selected cell is in the viewport.
async function shownCell(page) {
  await page.waitForSelector("#panel:not([hidden])", { timeout: 5000 });
  return page.evaluate(() => {
    const sel = document.querySelector("#matrix-body td.c.sel");
    const box = sel && sel.getBoundingClientRect();
    return {
      id: document.querySelector("#panel-body h2").textContent,
      meta: document.querySelector("#panel-body p.meta").textContent,
      profile: document.querySelector("input[name=profile]:checked").value,
      visible: !!box && box.top >= 0 && box.bottom <= window.innerHeight,
    };
  });
}

// Links: loading index.html#<profile>/<target>/<case id> opens that cell
// under that profile; so does changing the fragment, filters notwithstanding.
async function checkLinks(page, url, data) {
  const profile = data.profiles[data.profiles.length - 1];
  const [t, c] = [data.targets.length - 1, data.cases.length - 1];
  const [target, caseId] = [data.targets[t][0], data.cases[c][0]];
  await page.goto(url + "#" + linkTo(data, profile, t, caseId), { waitUntil: "load" });
  await page.waitForSelector("body[data-ready]", { timeout: 30000 });
  let shown = await shownCell(page);
  expect(
    shown.id === caseId && shown.meta.startsWith(target + " ") && shown.meta.includes(" · " + profile + " · ") && shown.profile === profile,
    `a link opens ${caseId} of ${target} under ${profile} (${shown.id}; ${shown.meta}; ${shown.profile})`,
  );
  expect(shown.visible, "a link scrolls its cell into view");

  // Hide every verdict and the target's column, then follow a link to the
  // first case: the filters widen to show it.
  await page.click("#panel-close");
  await setChecked(page, "input[name=verdict]", false);
  await page.click(`input[name=target][value='${t}']`);
  const first = data.profiles[0];
  await page.evaluate((hash) => { location.hash = hash; }, linkTo(data, first, t, data.cases[0][0]));
  shown = await shownCell(page);
  expect(
    shown.id === data.cases[0][0] && shown.meta.startsWith(target + " ") && shown.profile === first && shown.visible,
    `a changed fragment opens ${data.cases[0][0]} of ${target} under ${first} (${shown.id}; ${shown.meta})`,
  );
}

async function check(page, url) {
  const data = await page.evaluate(() => JSON.parse(document.getElementById("page-data").textContent));
  const cases = data.cases.length;
  const targets = data.targets.length;
  let seen = await counts(page);
  expect(seen.rows === cases, `the matrix has a row per case (${seen.rows} of ${cases})`);
  expect(seen.columns === targets, `the matrix has a column per target (${seen.columns} of ${targets})`);
  expect(seen.profiles.join() === data.profiles[0], `one summary shows, ${data.profiles[0]}'s (${seen.profiles})`);
  const rows = option("--rows");
  if (rows !== undefined) expect(cases === rows, `the page holds the ${rows} cases run (${cases})`);
  const wanted = option("--targets");
  if (wanted !== undefined) expect(targets === wanted, `the page holds the ${wanted} targets run (${targets})`);
  // Row by row, then target by target, as the data has them.
  const expectedCodes = (profile) =>
    data.cases.map((_, c) => data.verdicts[profile].map((codes) => codes[c]).join("")).join("").toLowerCase();
  expect(seen.codes === expectedCodes(data.profiles[0]), "every cell shows its verdict");
  const shownSymbols = await page.$$eval("#matrix-body td.c", (cells) => cells.map((c) => c.textContent).join(""));
  const wantedSymbols = [...expectedCodes(data.profiles[0])].map((code) => data.symbols[code] || "·").join("");
  expect(shownSymbols === wantedSymbols, "every cell shows its verdict's symbol");

  // A cell opens the panel with the case's rules and its transcript.
  const cell = (await page.$("#matrix-body td.c.v-fail")) || (await page.$("#matrix-body td.c"));
  const caseId = await cell.evaluate((td) => td.parentElement.querySelector("th .mono").textContent);
  await cell.click();
  await page.waitForSelector("#panel:not([hidden])", { timeout: 5000 });
  const panel = await page.$eval("#panel-body", (p) => p.textContent);
  expect(panel.includes(caseId), `the panel names the clicked case (${caseId})`);
  const clicked = await cell.evaluate((td) => Number(td.dataset.t));
  const hash = await page.evaluate(() => location.hash);
  expect(hash === "#" + linkTo(data, data.profiles[0], clicked, caseId), `the address links to the opened cell (${hash})`);
  expect(/Transcript \(\d+ hops\)/.test(panel), "the panel shows the transcript");
  expect(/#1 [A-Z]+ https?:\/\//.test(panel), "the transcript shows the first hop's method and URL");
  expect(panel.includes("Rules"), "the panel shows the rules");
  const text = args.indexOf("--panel-text");
  if (text >= 0) expect(panel.includes(args[text + 1]), `the panel shows ${args[text + 1]} as text`);
  await page.click("#panel-close");

  // Area filter: only the area's cases.
  const area = data.cases[data.cases.length - 1][1];
  await page.select("#area", area);
  seen = await counts(page);
  const inArea = data.cases.filter((c) => c[1] === area).length;
  const areas = new Set(data.cases.map((c) => c[1])).size;
  expect(seen.rows === inArea && (areas === 1 || inArea < cases), `the area filter shows ${area}'s ${inArea} cases (${seen.rows})`);
  await page.select("#area", "");

  // Verdict filter: only rows with a fail in some column.
  await setChecked(page, "input[name=verdict]:not([value=fail])", false);
  const failing = (profile) =>
    data.cases.filter((_, c) => data.verdicts[profile].some((codes) => codes[c].toLowerCase() === "f")).length;
  seen = await counts(page);
  const first = data.profiles[0];
  expect(seen.rows === failing(first), `the verdict filter shows the ${failing(first)} cases with a fail (${seen.rows})`);

  // Profile switch: the other profile's verdicts and summary.
  if (data.profiles.length > 1) {
    const other = data.profiles[1];
    await page.click(`input[name=profile][value=${other}]`);
    seen = await counts(page);
    const fails = data.verdicts[other].join("").toLowerCase().split("f").length - 1;
    expect(seen.profiles.join() === other, `the profile switch shows ${other}'s summary only (${seen.profiles})`);
    expect(seen.rows === failing(other) && seen.fails === fails, `the profile switch shows ${other}'s verdicts (${seen.fails} fails)`);
    await setChecked(page, "input[name=verdict]", true);
    seen = await counts(page);
    expect(seen.codes === expectedCodes(other), `every cell shows its verdict under ${other}`);
    if (expectedCodes(other) !== expectedCodes(first)) {
      expect(seen.codes !== expectedCodes(first), `the verdicts under ${other} differ from those under ${first}`);
    }
    await page.click(`input[name=profile][value=${first}]`);
  }
  await setChecked(page, "input[name=verdict]", true);

  // Target filter: one column fewer.
  if (targets > 1) {
    await page.click("input[name=target][value='0']");
    seen = await counts(page);
    expect(seen.columns === targets - 1, `the target filter hides a column (${seen.columns})`);
    await page.click("input[name=target][value='0']");
  }

  // The screenshot: the matrix with a failed cell opened.
  const failed = (await page.$("#matrix-body td.c.v-fail")) || (await page.$("#matrix-body td.c"));
  await failed.click();
  await page.waitForSelector("#panel:not([hidden])");
  await page.screenshot({ path: screenshotPath });
  console.log("screenshot: " + screenshotPath);

  await checkLinks(page, url, data);
}

async function measureLoad(page, url) {
  const bytes = statSync(indexPath).size;
  const started = performance.now();
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector("body[data-ready]");
  const loaded = performance.now() - started;
  const { rows, columns } = await counts(page);
  const openStarted = performance.now();
  await page.click("#matrix-body td.c");
  await page.waitForSelector("#panel:not([hidden])");
  const opened = performance.now() - openStarted;
  const switchStarted = performance.now();
  const profiles = await page.$$eval("input[name=profile]", (r) => r.map((x) => x.value));
  if (profiles.length > 1) await page.click(`input[name=profile][value=${profiles[1]}]`);
  const switched = performance.now() - switchStarted;
  console.log(
    `page: ${(bytes / 1048576).toFixed(1)} MiB (${bytes} bytes), ${rows} rows × ${columns} targets; ` +
      `loaded and drawn in ${loaded.toFixed(0)} ms, first cell opened in ${opened.toFixed(0)} ms, ` +
      `profile switched in ${switched.toFixed(0)} ms`,
  );
}

let status = 0;
try {
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    // No sandbox: the check runs as root in CI. The rest keeps Chromium
    // off the network, which is closed here.
    args: [
      "--no-sandbox",
      "--headless=new",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
    headless: true,
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // Hostile case data that got through as markup would run and say so.
  page.on("dialog", (d) => {
    errors.push("a dialog opened: " + d.message());
    d.dismiss().catch(() => {});
  });
  page.on("request", (r) => {
    if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) errors.push("a request left the page: " + r.url());
  });
  const url = pathToFileURL(resolve(indexPath)).href;
  if (measure) {
    await measureLoad(page, url);
  } else {
    await page.goto(url, { waitUntil: "load" });
    await page.waitForSelector("body[data-ready]", { timeout: 30000 });
    await check(page, url);
  }
  expect(errors.length === 0, "no script errors and no network requests" + (errors.length ? ": " + errors.join("; ") : ""));
} catch (e) {
  console.error(e instanceof CheckFailed ? "check failed: " + e.message : e.stack || String(e));
  status = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  clearTimeout(watchdog);
}
process.exit(status);
