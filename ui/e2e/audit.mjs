#!/usr/bin/env node
// The audit ZIP's offline pages in headless Chromium, straight from the unpacked ZIP (file://, no server).
//
//   AUDIT_DIR=/tmp/unpacked AUDIT_EXPECT='{"pages":{"tickets/3.html":2},"hostile":"<img src=x onerror=alert(1)>"}' \
//     node e2e/audit.mjs
//
// AUDIT_EXPECT: "pages" maps each page (relative to AUDIT_DIR) to the number of photos it must show; every one must
// load (naturalWidth > 0). "hostile" is a text that must show as text on every page that holds it (at least one), run
// nothing (no dialog, no script error) and make no element. Any request that is not a file of AUDIT_DIR fails the run.
// Drives Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH) through playwright-core; never downloads a browser.
import { chromium } from "playwright-core";
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const DIR = resolve(process.env.AUDIT_DIR ?? "");
const EXPECT = JSON.parse(process.env.AUDIT_EXPECT ?? "{}");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!process.env.AUDIT_DIR || !existsSync(`${DIR}/index.html`)) {
  console.error("audit e2e: set AUDIT_DIR to an unpacked audit ZIP (with index.html)");
  process.exit(2);
}

const root = pathToFileURL(DIR + "/").href;
const outside = [];
const dialogs = [];
const errors = [];
let failed = false;

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function step(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed = true;
    console.log(`FAIL ${name}\n     ${String(e?.message ?? e).split("\n").join("\n     ")}`);
  }
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await ctx.newPage();
  page.on("request", (r) => {
    if (!r.url().startsWith(root)) outside.push(r.url());
  });
  page.on("dialog", async (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  page.on("pageerror", (e) => errors.push(String(e?.message ?? e)));

  /** Opens a page of the ZIP and waits until every image has loaded or failed. */
  async function open(rel) {
    const res = await page.goto(root + rel, { waitUntil: "load" });
    assert(res === null || res.ok(), `${rel}: could not be opened`);
    // Lazy images load once scrolled to.
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    for (let y = 0; y < height; y += 700) await page.evaluate((yy) => window.scrollTo(0, yy), y);
    // Scrolling fast may leave lazy images far down unrequested on a busy machine: ask for every one now (each must
    // still load from the ZIP for the check below to pass).
    await page.evaluate(() => document.querySelectorAll('img[loading="lazy"]').forEach((i) => (i.loading = "eager")));
    await page.waitForFunction(() => [...document.images].every((i) => i.complete), null, { timeout: 15000 });
  }

  await step("index.html opens from file:// and links to every ticket page", async () => {
    await open("index.html");
    const links = await page.$$eval('a[href^="tickets/"]', (as) => as.map((a) => a.getAttribute("href")));
    for (const p of Object.keys(EXPECT.pages ?? {})) {
      if (p.startsWith("tickets/")) assert(links.includes(p), `index.html has no link to ${p}`);
    }
  });

  let hostileSeen = 0;
  const pages = ["index.html", ...Object.keys(EXPECT.pages ?? {}), ...(EXPECT.more ?? [])];
  for (const rel of pages) {
    await step(`${rel}: photos load and text stays text`, async () => {
      await open(rel);
      const want = EXPECT.pages?.[rel];
      const imgs = await page.$$eval(".photos img", (is) => is.map((i) => ({ src: i.getAttribute("src"), w: i.naturalWidth })));
      if (want !== undefined) {
        assert(imgs.length === want, `${rel}: ${imgs.length} photos shown, expected ${want}`);
        const broken = imgs.filter((i) => !(i.w > 0));
        assert(broken.length === 0, `${rel}: photos that did not load: ${broken.map((i) => i.src).join(", ")}`);
      }
      if (EXPECT.hostile) {
        const shown = await page.evaluate(() => document.body.innerText);
        if (shown.includes(EXPECT.hostile)) {
          hostileSeen++;
          const injected = await page.$$eval('img[src="x"], script', (es) => es.length);
          assert(injected === 0, `${rel}: the hostile text made ${injected} element(s)`);
        }
      }
    });
  }
  await step("the hostile text is shown as text somewhere, and ran nothing", async () => {
    if (EXPECT.hostile) assert(hostileSeen > 0, `no page shows ${JSON.stringify(EXPECT.hostile)} as text`);
    assert(dialogs.length === 0, `dialogs opened: ${dialogs.join("; ")}`);
    assert(errors.length === 0, `script errors: ${errors.join("; ")}`);
  });
  await step("nothing was fetched from outside the ZIP", async () => {
    assert(outside.length === 0, `requests outside the ZIP: ${outside.join(", ")}`);
  });
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
