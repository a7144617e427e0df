// Dates, labels and small formatting helpers. Times are shown in the appliance's zone
// (Asia/Kuala_Lumpur unless /auth/me says otherwise) in the chosen language; days are dd/mm/yyyy whatever the
// browser's locale.
import { currentLang, locale, t } from "./i18n";

let zone = "Asia/Kuala_Lumpur";

export function setTimeZone(tz: string | null | undefined): void {
  if (!tz) return;
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: tz });
    zone = tz;
  } catch {
    /* unknown zone: keep the default */
  }
}

export function timeZone(): string {
  return zone;
}

function parse(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

const cache = new Map<string, Intl.DateTimeFormat>();
function fmt(key: string, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const k = `${zone}|${currentLang()}|${key}`;
  let f = cache.get(k);
  if (!f) {
    f = new Intl.DateTimeFormat(key === "ymd" ? "en-GB" : locale(), { ...opts, timeZone: zone });
    cache.set(k, f);
  }
  return f;
}

/** YYYY-MM-DD of an instant in the appliance zone. */
export function dayKey(iso: string | Date | null | undefined): string {
  const d = iso instanceof Date ? iso : parse(iso);
  if (!d) return "";
  const parts = fmt("ymd", { year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(d);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")}`;
}

export function todayKey(): string {
  return dayKey(new Date());
}

export function shiftDay(key: string, delta: number): string {
  const [y, m, d] = key.split("-").map(Number);
  const day = new Date(Date.UTC(y, m - 1, d + delta));
  return day.toISOString().slice(0, 10);
}

/** A YYYY-MM-DD day as dd/mm/yyyy. */
export function formatDay(key: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key);
  return m ? `${m[3]}/${m[2]}/${m[1]}` : key;
}

/** dd/mm/yyyy (or d/m/yyyy, with / . or - between) to YYYY-MM-DD; null when it is not a real day. */
export function parseDay(text: string): string | null {
  const m = /^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$/.exec(text);
  if (!m) return null;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return date.toISOString().slice(0, 10);
}

/** "Today", "Yesterday" or "Mon, 23/11/2026". */
export function dayLabel(key: string): string {
  const today = todayKey();
  if (key === today) return t("Today");
  if (key === shiftDay(today, -1)) return t("Yesterday");
  const [y, m, d] = key.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d, 12));
  const wd = new Intl.DateTimeFormat(locale(), { weekday: "short", timeZone: "UTC" }).format(date);
  return `${wd}, ${formatDay(key)}`;
}

export function formatTime(iso: string | null | undefined): string {
  const d = parse(iso);
  return d ? fmt("hm", { hour: "numeric", minute: "2-digit" }).format(d) : "";
}

export function formatDateTime(iso: string | null | undefined): string {
  const d = parse(iso);
  if (!d) return "—";
  const sameDay = dayKey(d) === todayKey();
  return sameDay
    ? `${t("Today")} ${formatTime(iso)}`
    : `${formatDay(dayKey(d))} ${formatTime(iso)}`;
}

/** Machine-readable value for <time datetime>. */
export function isoAttr(iso: string | null | undefined): string | undefined {
  const d = parse(iso);
  return d ? d.toISOString() : undefined;
}

/** "in 3 h", "5 min ago" — coarse, for deadlines and activity. */
export function relative(iso: string | null | undefined, now = Date.now()): string {
  const d = parse(iso);
  if (!d) return "";
  const diff = d.getTime() - now;
  const abs = Math.abs(diff);
  const min = 60_000;
  const hour = 60 * min;
  const day = 24 * hour;
  let v: string;
  if (abs < min) return diff >= 0 ? t("now") : t("just now");
  if (abs < hour) v = t("{n} min", { n: Math.round(abs / min) });
  else if (abs < day) v = t("{n} h", { n: Math.round(abs / hour) });
  else v = t("{n} d", { n: Math.round(abs / day) });
  return diff >= 0 ? t("in {v}", { v }) : t("{v} ago", { v });
}

/** "in_progress" → "In progress", in the chosen language (statuses, categories, roles, priorities…). */
export function humanize(s: string | null | undefined): string {
  if (!s) return "";
  if (s === "hvac") return "HVAC";
  const words = s.replace(/_/g, " ");
  return t(words.charAt(0).toUpperCase() + words.slice(1));
}

export const KIND_LABELS: Record<string, string> = {
  task_report: t("Task"),
  issue_report: t("Issue"),
  issue_update: t("Update"),
  issue_resolved: t("Resolved"),
  check_in: t("Check-in"),
  instruction: t("Instruction"),
  chatter: t("Chatter"),
};

export const KINDS = Object.keys(KIND_LABELS);

export const ISSUE_STATUSES = ["open", "acknowledged", "in_progress", "resolved", "closed"];
export const TASK_STATUSES = ["done", "in_progress", "blocked"];
export const PRIORITIES = ["urgent", "high", "normal", "low"];
export const CATEGORIES = [
  "cleaning",
  "security",
  "plumbing",
  "electrical",
  "lift",
  "hvac",
  "pest",
  "landscaping",
  "waste",
  "civil",
  "other",
];

export function formatLocation(loc: { block?: string | null; level?: string | null; unit?: string | null; area?: string | null } | null | undefined): string {
  if (!loc) return "";
  const parts: string[] = [];
  if (loc.block) parts.push(t("Block {b}", { b: loc.block }));
  if (loc.level) parts.push(t("Level {l}", { l: loc.level }));
  if (loc.unit) parts.push(t("Unit {u}", { u: loc.unit }));
  // The area is the site's own word ("lobby", "carpark"): shown as written, not translated.
  if (loc.area) parts.push(loc.area.charAt(0).toUpperCase() + loc.area.slice(1).replace(/_/g, " "));
  return parts.join(" · ");
}

export function personName(p: { name?: string | null; phone?: string | null } | null | undefined): string {
  if (!p) return t("Unknown");
  if (p.name) return p.name;
  if (p.phone) return `+${p.phone}`;
  return t("Unknown");
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
