// Development-only: screenshots of every page at desktop and phone size, to check the look.
//   TAPAK_URL=http://127.0.0.1:8090 node dev-mock/shots.mjs   → dev-mock/shots/*.png
import { chromium } from "playwright-core";
import { mkdir } from "node:fs/promises";

const base = (process.env.TAPAK_URL ?? "http://127.0.0.1:8090").replace(/\/$/, "");
const user = process.env.TAPAK_USER ?? "admin";
const pass = process.env.TAPAK_PASSWORD ?? "admin-password";
const out = new URL("./shots/", import.meta.url).pathname;
await mkdir(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const pages = (process.env.SHOTS ?? "/,/inbox,/issues,/issues/i1,/tasks,/schedules,/reports,/settings").split(",");
for (const [name, viewport] of [["desk", { width: 1280, height: 860 }], ["phone", { width: 390, height: 844 }]]) {
  const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1, timezoneId: "Asia/Kuala_Lumpur", locale: "en-MY" });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => console.error("pageerror", e.message));
  await page.goto(`${base}/login`);
  await page.screenshot({ path: `${out}${name}-login.png` });
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", pass);
  await page.click("button[type=submit]");
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
  for (const p of pages) {
    await page.goto(base + p);
    await page.waitForTimeout(900);
    const file = `${out}${name}${p.replace(/\//g, "_") || "_"}.png`;
    await page.screenshot({ path: file, fullPage: process.env.FULL === "1" });
    console.log(file);
  }
  await ctx.close();
}
await browser.close();
