// Development-only mock of the tapak API (canned data) that also serves ../dist with the SPA fallback.
// Not used by the e2e tests' contract; handy to see pages without the Rust server:
//   npm run build && npm run mock            # http://127.0.0.1:8090, login admin / admin-password
// Env: MOCK_PORT (default 8090), MOCK_ROLE (admin|manager|viewer|inspector), MOCK_EMPTY=1 (no data).
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

const DIST = fileURLToPath(new URL("../dist/", import.meta.url));
const PORT = Number(process.env.MOCK_PORT ?? 8090);
const ROLE = process.env.MOCK_ROLE ?? "admin";
const EMPTY = process.env.MOCK_EMPTY === "1";
const USERS = { admin: "admin-password", siti: "siti-password" };

const sessions = new Map(); // sid -> {user, csrf}
const failures = [];

// ---------- canned data ----------
const chats = [
  { id: "c1", name: "Cleaning Team Residensi Melati" },
  { id: "c2", name: "Security Team" },
  { id: "c3", name: "Maintenance & Vendors" },
];
const sites = [{ id: "s1", name: "Residensi Melati" }, { id: "s2", name: "Menara Kenanga" }];
const people = [
  { id: "p1", name: "Siti Cleaner", phone: "60123456701" },
  { id: "p2", name: "Raju Guard", phone: "60123456702" },
  { id: "p3", name: null, phone: "60123456703" },
  { id: "p4", name: "Encik Lim (Manager)", phone: "60123456704" },
];
const samples = [
  ["c1", "p1", "Done cleaning lobby Block A ✅", "task_report", { status: "done", category: "cleaning", location: { block: "A", area: "lobby" } }],
  ["c1", "p1", "Siap mop lobi blok B", "task_report", { status: "done", category: "cleaning", location: { block: "B", area: "lobby" } }],
  ["c3", "p2", "Paip bocor tingkat 5 blok A\nAir banyak keluar dekat tangga", "issue_report", { category: "plumbing", priority: "high", location: { block: "A", level: "5", area: "staircase" } }],
  ["c3", "p4", "@Ali check pump room now", "instruction", { category: "plumbing", location: { area: "pump room" } }],
  ["c3", "p3", "Technician on the way", "issue_update", { category: "plumbing" }],
  ["c3", "p3", "Leak settled boss", "issue_resolved", { category: "plumbing" }],
  ["c2", "p2", "Clock in guardhouse 7am", "check_in", { category: "security", location: { area: "guardhouse" } }],
  ["c2", "p2", "Checkpoint 3 clear", "check_in", { category: "security" }],
  ["c2", "p4", "Good morning all 🙏", "chatter", {}],
  ["c3", "p2", "Lift stuck again at Block C, resident trapped!!", "issue_report", { category: "lift", priority: "urgent", repeat: true, location: { block: "C" } }],
  ["c2", "p3", "<img src=x onerror=alert(1)> test <b>bold</b> & <script>alert(2)</script>", "chatter", {}],
  ["c1", "p1", null, null, null],
];
const evidence = new Map();
const messages = [];
const now = Date.now();
if (!EMPTY) {
  for (let i = 0; i < 130; i++) {
    const [chat, person, text, kind, cls] = samples[i % samples.length];
    const t = new Date(now - i * 37 * 60_000);
    const id = `m${String(i).padStart(4, "0")}`;
    const media = [];
    if (i % 4 === 0 || text === null) {
      const eid = `e${i}`;
      evidence.set(eid, { id: eid, kind: "photo", mime: "image/jpeg", sha256: "ab".repeat(32), bytes: 120_000 + i, status: i === 8 ? "pending" : "ready", filename: i % 8 === 0 ? `IMG-2026${i}.jpg` : null, received_at: t.toISOString(), message: id, record: null, duplicate_of: i === 12 ? "e0" : null });
      media.push(eid);
    }
    if (i % 9 === 5) {
      const eid = `v${i}`;
      evidence.set(eid, { id: eid, kind: "voice", mime: "audio/ogg", bytes: 23_000, status: "ready", filename: null, received_at: t.toISOString(), message: id, record: null, duplicate_of: null });
      media.push(eid);
    }
    if (i % 17 === 3) {
      const eid = `d${i}`;
      evidence.set(eid, { id: eid, kind: "document", mime: "application/pdf", bytes: 340_000, status: "ready", filename: "Quotation pump repair.pdf", received_at: t.toISOString(), message: id, record: null, duplicate_of: null });
      media.push(eid);
    }
    messages.push({
      id,
      chat: chats.find((c) => c.id === chat),
      sender: people.find((p) => p.id === person),
      sent_at: t.toISOString().replace("Z", "+00:00"),
      type: i % 23 === 22 ? "system" : text === null ? "media" : "text",
      text: i % 23 === 22 ? "Raju Guard added Ali" : text,
      edited: i % 11 === 1,
      deleted: i % 29 === 7,
      kind,
      classification: kind
        ? { kind, status: null, category: null, location: {}, priority: null, repeat: false, confidence: 0.62 + (i % 5) * 0.08, cues: [`kind: '${(text ?? "").split(" ")[0]}' → ${kind}`, "lexicon: trade word"], ...cls }
        : null,
      record: kind === "issue_report" ? { type: "issue", id: `i${i % 6}` } : kind === "task_report" ? { type: "task", id: `t${i}` } : null,
      media,
      source: i % 2 ? "waha" : "cloud_api",
    });
  }
}
const statuses = ["open", "in_progress", "acknowledged", "resolved", "closed", "open"];
const issues = EMPTY
  ? []
  : Array.from({ length: 14 }, (_, k) => ({
      id: `i${k}`,
      title: ["Pipe leak level 5 Block A", "Lift stuck Block C", "Aircon lobby not cold", "Lamp spoil car park B1", "Rubbish not collected", "Cracked tiles pool deck"][k % 6],
      status: statuses[k % 6],
      category: ["plumbing", "lift", "hvac", "electrical", "waste", "civil"][k % 6],
      priority: ["high", "urgent", "normal", "normal", "low", "low"][k % 6],
      location: [{ block: "A", level: "5" }, { block: "C" }, { area: "lobby" }, { level: "B1", area: "car park" }, {}, { area: "pool" }][k % 6],
      site: sites[k % 2],
      chat: chats[2],
      opened_at: new Date(now - k * 5 * 3600_000).toISOString(),
      reported_by: people[k % 4],
      owner: k % 3 === 0 ? people[3] : null,
      resolved_at: statuses[k % 6] === "resolved" ? new Date(now - 3600_000).toISOString() : null,
      repeat_of: k === 1 ? "i7" : null,
      sla: { respond_by: new Date(now - k * 5 * 3600_000 + 3600_000).toISOString(), resolve_by: new Date(now - k * 5 * 3600_000 + 8 * 3600_000).toISOString(), breached: k % 4 === 1 },
    }));
const tasks = EMPTY
  ? []
  : Array.from({ length: 20 }, (_, k) => ({
      id: `t${k}`,
      status: ["done", "in_progress", "blocked"][k % 3],
      category: ["cleaning", "landscaping", "security"][k % 3],
      location: [{ block: "A", area: "lobby" }, { area: "playground" }, { area: "guardhouse" }][k % 3],
      site: sites[0],
      chat: chats[0],
      reported_at: new Date(now - k * 2 * 3600_000).toISOString(),
      reported_by: people[k % 3],
      schedule: null,
      evidence: k % 2 ? [] : [{ ...(evidence.get(`e${(k * 4) % 128}`) ?? { id: "e0", kind: "photo", status: "ready" }), role: "evidence", link_reason: "caption" }],
    }));

// ---------- helpers ----------
function json(res, status, body, headers = {}) {
  const b = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(b), ...headers });
  res.end(b);
}
const err = (res, status, code, message, headers) => json(res, status, { error: { code, message } }, headers);
function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k) out[k] = v.join("=");
  }
  return out;
}
async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
  } catch {
    return null;
  }
}
function page(res, items, url) {
  const limit = Math.min(Number(url.searchParams.get("limit") ?? 50) || 50, 500);
  const start = Number(url.searchParams.get("cursor") ?? 0) || 0;
  const slice = items.slice(start, start + limit);
  json(res, 200, { items: slice, next_cursor: start + limit < items.length ? String(start + limit) : null });
}
function thumbSvg(id) {
  const hue = [...id].reduce((a, c) => a + c.charCodeAt(0) * 37, 0) % 360;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240"><rect width="320" height="240" fill="hsl(${hue},45%,62%)"/><rect x="40" y="120" width="240" height="90" fill="hsl(${hue},35%,40%)"/><circle cx="250" cy="60" r="28" fill="#fff6c9"/><text x="20" y="40" font-family="sans-serif" font-size="28" fill="#fff">${id}</text></svg>`;
}
const MIME = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json" };

// ---------- server ----------
createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  const p = url.pathname;
  if (p.startsWith("/api/")) {
    await new Promise((r) => setTimeout(r, 120)); // a little latency to see loading states
    const sid = cookies(req).tapak_session;
    const sess = sid ? sessions.get(sid) : undefined;
    if (p === "/api/v1/auth/login" && req.method === "POST") {
      const t = Date.now();
      while (failures.length && t - failures[0] > 60_000) failures.shift();
      if (failures.length >= 5) return err(res, 429, "rate_limited", "Too many login attempts", { "Retry-After": "30" });
      const b = await body(req);
      if (!b || USERS[b.username] !== b.password) {
        failures.push(t);
        return err(res, 401, "bad_credentials", "Wrong username or password");
      }
      const id = randomBytes(16).toString("hex");
      const s = { user: { id: "u1", name: b.username, role: ROLE }, csrf_token: randomBytes(16).toString("hex") };
      sessions.set(id, s);
      return json(res, 200, s, { "Set-Cookie": `tapak_session=${id}; HttpOnly; SameSite=Strict; Path=/` });
    }
    if (!sess) return err(res, 401, "unauthenticated", "Sign in first");
    if (req.method !== "GET" && req.headers["x-csrf-token"] !== sess.csrf_token) return err(res, 403, "csrf", "Missing or wrong CSRF token");
    if (p === "/api/v1/auth/me") return json(res, 200, sess);
    if (p === "/api/v1/auth/logout" && req.method === "POST") {
      sessions.delete(sid);
      return json(res, 200, { ok: true }, { "Set-Cookie": "tapak_session=; Max-Age=0; Path=/" });
    }
    const f = (m) => {
      const q = url.searchParams;
      const day = m.sent_at.slice(0, 10);
      return (!q.get("chat") || m.chat.id === q.get("chat")) && (!q.get("kind") || m.kind === q.get("kind")) && (!q.get("person") || m.sender.id === q.get("person")) && (!q.get("from") || day >= q.get("from")) && (!q.get("to") || day <= q.get("to"));
    };
    if (p === "/api/v1/messages") return page(res, messages.filter(f), url);
    if (p === "/api/v1/search") {
      const q = (url.searchParams.get("q") ?? "").toLowerCase();
      const hits = messages
        .filter((m) => m.text && m.text.toLowerCase().includes(q) && f(m))
        .map((m) => {
          const i = m.text.toLowerCase().indexOf(q);
          return { ...m, snippet: `${m.text.slice(0, i)}«${m.text.slice(i, i + q.length)}»${m.text.slice(i + q.length)}` };
        });
      return page(res, hits, url);
    }
    if (p === "/api/v1/chats") return page(res, chats, url);
    if (p === "/api/v1/sites") return page(res, sites, url);
    if (p === "/api/v1/people") return page(res, people, url);
    if (p === "/api/v1/issues") {
      const q = url.searchParams;
      return page(res, issues.filter((i) => (!q.get("status") || i.status === q.get("status")) && (!q.get("priority") || i.priority === q.get("priority")) && (!q.get("category") || i.category === q.get("category"))), url);
    }
    if (p === "/api/v1/tasks") return page(res, tasks.filter((t) => !url.searchParams.get("status") || t.status === url.searchParams.get("status")), url);
    let m;
    if ((m = p.match(/^\/api\/v1\/issues\/([^/]+)$/))) {
      const i = issues.find((x) => x.id === decodeURIComponent(m[1]));
      if (!i) return err(res, 404, "not_found", "No such issue");
      const tl = messages.filter((x) => x.chat.id === "c3").slice(0, 5).reverse();
      return json(res, 200, {
        ...i,
        timeline: tl.map((x, k) => ({ id: x.id, sent_at: x.sent_at, sender: x.sender, kind: x.kind, text: x.text, link_reason: ["opened", "same_category_location", "reply", "same_sender", "reply"][k] })),
        evidence: [
          { ...evidence.get("e0"), role: "evidence", link_reason: "caption" },
          { ...evidence.get("e4"), role: "evidence", link_reason: "same_sender_within_10_min" },
          { ...evidence.get("e12"), role: "resolution_proof", link_reason: "resolution_media" },
        ].filter((e) => e.id),
      });
    }
    if ((m = p.match(/^\/api\/v1\/evidence\/([^/]+)(\/thumbnail|\/file)?$/))) {
      const e = evidence.get(decodeURIComponent(m[1]));
      if (!e) return err(res, 404, "not_found", "No such evidence");
      if (!m[2]) return json(res, 200, e);
      if (e.kind !== "photo") {
        res.writeHead(200, { "Content-Type": e.mime ?? "application/octet-stream" });
        return res.end("not real media");
      }
      res.writeHead(200, { "Content-Type": "image/svg+xml", "Cache-Control": "private, max-age=3600" });
      return res.end(thumbSvg(e.id));
    }
    if (p === "/api/v1/dashboard") {
      return json(res, 200, {
        messages_today: messages.filter((x) => Date.now() - Date.parse(x.sent_at) < 86400_000).length,
        open_issues: issues.filter((i) => !["resolved", "closed"].includes(i.status)).length,
        overdue_issues: issues.filter((i) => i.sla.breached).length,
        tasks_done_today: 7,
        media_pending: 1,
        recent_issues: issues.filter((i) => i.status === "open").slice(0, 5),
        chats: chats.map((c, k) => ({ ...c, last_message_at: new Date(now - k * k * 20 * 3600_000).toISOString(), messages: 40 + k * 13 })),
      });
    }
    return err(res, 404, "not_found", `No route ${p}`);
  }
  // static files with SPA fallback
  const rel = normalize(decodeURIComponent(p)).replace(/^(\.\.[/\\])+/, "");
  let file = join(DIST, rel);
  try {
    if (!(await stat(file)).isFile()) throw new Error("dir");
  } catch {
    file = join(DIST, "index.html");
  }
  try {
    const data = await readFile(file);
    res.writeHead(200, {
      "Content-Type": MIME[extname(file)] ?? "application/octet-stream",
      // The strict policy the real server can send too: the bundle needs no inline script or style.
      "Content-Security-Policy":
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    });
    res.end(data);
  } catch {
    res.writeHead(500);
    res.end("run npm run build first");
  }
}).listen(PORT, "127.0.0.1", () => console.log(`http://127.0.0.1:${PORT}`));
