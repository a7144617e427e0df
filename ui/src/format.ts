// Dates, labels and small formatting helpers. Times are shown in the appliance's zone
// (Asia/Kuala_Lumpur unless /auth/me says otherwise) in the browser's locale.

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
  const k = `${zone}|${key}`;
  let f = cache.get(k);
  if (!f) {
    f = new Intl.DateTimeFormat(undefined, { ...opts, timeZone: zone });
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

function shiftDay(key: string, delta: number): string {
  const [y, m, d] = key.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + delta));
  return t.toISOString().slice(0, 10);
}

/** "Today", "Yesterday" or "Mon, 23 Nov 2026". */
export function dayLabel(key: string): string {
  const today = todayKey();
  if (key === today) return "Today";
  if (key === shiftDay(today, -1)) return "Yesterday";
  const [y, m, d] = key.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d, 12));
  return new Intl.DateTimeFormat(undefined, {
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    timeZone: "UTC",
  }).format(date);
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
    ? `Today ${formatTime(iso)}`
    : fmt("dt", { day: "numeric", month: "short", hour: "numeric", minute: "2-digit" }).format(d);
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
  if (abs < min) return diff >= 0 ? "now" : "just now";
  if (abs < hour) v = `${Math.round(abs / min)} min`;
  else if (abs < day) v = `${Math.round(abs / hour)} h`;
  else v = `${Math.round(abs / day)} d`;
  return diff >= 0 ? `in ${v}` : `${v} ago`;
}

export function humanize(s: string | null | undefined): string {
  if (!s) return "";
  if (s === "hvac") return "HVAC";
  const t = s.replace(/_/g, " ");
  return t.charAt(0).toUpperCase() + t.slice(1);
}

export const KIND_LABELS: Record<string, string> = {
  task_report: "Task",
  issue_report: "Issue",
  issue_update: "Update",
  issue_resolved: "Resolved",
  check_in: "Check-in",
  instruction: "Instruction",
  chatter: "Chatter",
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
  if (loc.block) parts.push(`Block ${loc.block}`);
  if (loc.level) parts.push(`Level ${loc.level}`);
  if (loc.unit) parts.push(`Unit ${loc.unit}`);
  if (loc.area) parts.push(humanize(loc.area));
  return parts.join(" · ");
}

export function personName(p: { name?: string | null; phone?: string | null } | null | undefined): string {
  if (!p) return "Unknown";
  if (p.name) return p.name;
  if (p.phone) return `+${p.phone}`;
  return "Unknown";
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
