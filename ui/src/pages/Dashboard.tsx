import { useEffect, useMemo, useState } from "preact/hooks";
import { can, useUser } from "../auth";
import { DateInput } from "../components/DateInput";
import { PageHeader } from "../components/Layout";
import { Empty, Loading, Problem } from "../components/States";
import { dayLabel, formatDateTime, isoAttr, relative, shiftDay, todayKey } from "../format";
import { useAll, useDocumentTitle, useResource } from "../hooks";
import { formatNumber, t, tn } from "../i18n";
import { Link, setQuery, useLocation } from "../router";
import type { Assignee, Backlog, ChatActivity, Dashboard as DashboardData, Issue, Occurrence, Schedule, Task } from "../types";
import { IssueCards } from "./Issues";
import { OccurrenceRows } from "./Occurrences";

interface Tile {
  key: string;
  label: string;
  value: number | null;
  href: string;
  tone: "alert" | "warn" | "ok" | "plain";
  hint: string;
}

const SILENT_KEY = "tapak.silentHours";
export const SILENT_CHOICES = [2, 6, 12, 24, 48, 72];

export function silentHours(): number {
  try {
    const v = Number(localStorage.getItem(SILENT_KEY));
    if (SILENT_CHOICES.includes(v)) return v;
  } catch {
    /* default */
  }
  return 24;
}

export function setSilentHours(h: number): void {
  try {
    localStorage.setItem(SILENT_KEY, String(h));
  } catch {
    /* not remembered */
  }
}

/** "today", "yesterday" or "Mon, 07/12/2026", to sit inside a sentence. */
function dayWord(key: string): string {
  const l = dayLabel(key);
  return /^[\p{L} ]+$/u.test(l) ? l.toLowerCase() : l;
}

const REPORTED = new Set(["fulfilled", "late", "missing_photo", "blocked"]);

function who(a: Assignee[]): string {
  if (a.length === 0) return t("Unassigned");
  return a.map((x) => ("vendor" in x ? x.vendor : x.name || `+${x.phone}`)).join(", ");
}

interface MissedRow {
  key: string;
  site: string;
  block: string;
  person: string;
  expected: number;
  reported: number;
  late: number;
  noPhoto: number;
  missed: number;
}

/** Expected against reported per site, block and person, from the day's occurrences and their schedules. */
function missedRows(occ: Occurrence[], schedules: Schedule[]): MissedRow[] {
  const byId = new Map(schedules.map((s) => [s.id, s]));
  const rows = new Map<string, MissedRow>();
  for (const o of occ) {
    if (o.status === "excused") continue;
    const s = byId.get(o.schedule.id);
    const site = o.site?.name ?? s?.site?.name ?? "—";
    const block = s?.location?.block ? t("Block {b}", { b: s.location.block }) : s?.location?.area ? s.location.area : "—";
    const person = s ? who(s.assignees) : "—";
    const key = `${site}|${block}|${person}`;
    const r = rows.get(key) ?? { key, site, block, person, expected: 0, reported: 0, late: 0, noPhoto: 0, missed: 0 };
    r.expected++;
    if (REPORTED.has(o.status)) r.reported++;
    if (o.status === "late") r.late++;
    if (o.status === "missing_photo") r.noPhoto++;
    if (o.status === "missed") r.missed++;
    rows.set(key, r);
  }
  return [...rows.values()].sort((a, b) => b.missed - a.missed || a.site.localeCompare(b.site) || a.block.localeCompare(b.block));
}

export function Dashboard() {
  useDocumentTitle(t("Dashboard"));
  const user = useUser();
  const { search } = useLocation();
  const today = todayKey();
  const date = /^\d{4}-\d{2}-\d{2}$/.test(search.get("date") ?? "") ? (search.get("date") as string) : today;
  const yesterday = shiftDay(today, -1);
  const day = useMemo(() => ({ from: date, to: date }), [date]);

  const dash = useResource<DashboardData>("/dashboard");
  const occ = useAll<Occurrence>("/occurrences", useMemo(() => ({ date }), [date]));
  const schedules = useAll<Schedule>(can(user, "operational") ? "/schedules" : null);
  const opened = useAll<Issue>("/issues", day);
  const open = useAll<Issue>("/issues", useMemo(() => ({ open: true }), []));
  const overdue = useAll<Issue>("/issues", useMemo(() => ({ overdue: true }), []));
  const lateOnce = useAll<Issue>("/issues", useMemo(() => ({ breached: true, overdue: false, from: date, to: date }), [date]));
  const tasks = useAll<Task>("/tasks", day);

  const d = dash.data;
  const catchingUp = (d?.backlog?.deliveries_waiting ?? 0) > 0;
  // Keep the numbers fresh while the dashboard stays open (e.g. on a wall screen); every few seconds while a backlog
  // is being filed, so the banner counts down.
  useEffect(() => {
    const timer = window.setInterval(
      () => {
        if (document.visibilityState !== "visible") return;
        dash.reload();
        if (!catchingUp) {
          occ.reload();
          open.reload();
          overdue.reload();
          opened.reload();
          tasks.reload();
        }
      },
      catchingUp ? 3_000 : 60_000,
    );
    return () => window.clearInterval(timer);
  }, [dash.reload, catchingUp]);

  const byStatus = (s: string) => (occ.data ? occ.data.filter((o) => o.status === s).length : null);
  const len = <T,>(x: { data: T[] | null }) => (x.data ? x.data.length : null);
  const q = (o: Record<string, string>) => new URLSearchParams(o).toString();
  const missed = byStatus("missed");
  const lateWork = byStatus("late");
  const noPhoto = byStatus("missing_photo");
  const tiles: Tile[] = [
    { key: "missed", label: t("Missed work"), value: missed, href: `/occurrences?${q({ date, status: "missed" })}`, tone: missed ? "alert" : "ok", hint: t("expected, not reported") },
    { key: "late", label: t("Late work"), value: lateWork, href: `/occurrences?${q({ date, status: "late" })}`, tone: lateWork ? "warn" : "plain", hint: t("reported after the due time") },
    { key: "no-photo", label: t("No photo"), value: noPhoto, href: `/occurrences?${q({ date, status: "missing_photo" })}`, tone: noPhoto ? "warn" : "plain", hint: t("reported without the required photo") },
    { key: "tasks", label: t("Tasks reported"), value: len(tasks), href: `/tasks?${q({ from: date, to: date })}`, tone: "plain", hint: dayLabel(date) },
    { key: "opened", label: t("New tickets"), value: len(opened), href: `/issues?${q({ from: date, to: date })}`, tone: "plain", hint: t("opened {day}", { day: dayWord(date) }) },
    { key: "open", label: t("Open tickets"), value: len(open), href: "/issues?open=true", tone: "plain", hint: t("not yet resolved, now") },
    { key: "overdue", label: t("Overdue now"), value: len(overdue), href: "/issues?overdue=true", tone: len(overdue) ? "alert" : "ok", hint: t("open and past a deadline") },
    { key: "late-once", label: t("Was late once"), value: len(lateOnce), href: `/issues?${q({ breached: "true", overdue: "false", from: date, to: date })}`, tone: "plain", hint: t("opened {day}, deadline missed, no longer overdue", { day: dayWord(date) }) },
  ];

  const pick = (v: string) => setQuery({ date: v === today ? null : v });

  return (
    <div class="page page-dashboard">
      <PageHeader title={t("Dashboard")} sub={t("Hello {name}. Here is {day} at a glance.", { name: user?.name ?? "", day: dayWord(date) })}>
        <div class="day-picker" role="group" aria-label={t("Day")}>
          <button type="button" class="btn btn-small" aria-pressed={date === today} onClick={() => pick(today)} data-day="today">
            {t("Today")}
          </button>
          <button type="button" class="btn btn-small" aria-pressed={date === yesterday} onClick={() => pick(yesterday)} data-day="yesterday">
            {t("Yesterday")}
          </button>
          <DateInput label={t("Day")} name="day" value={date} onChange={(v) => v && pick(v)} />
        </div>
      </PageHeader>
      {d?.backlog && d.backlog.deliveries_waiting > 0 ? <CatchingUp backlog={d.backlog} /> : null}
      <ul class="tiles" aria-label={dayLabel(date)}>
        {tiles.map((tile) => (
          <li key={tile.key} class={`tile tile-${tile.value === null ? "plain" : tile.tone}`} data-tile={tile.key}>
            <Link href={tile.href} class="tile-link">
              <span class="tile-value">{tile.value === null ? "…" : formatNumber(tile.value)}</span>
              <span class="tile-label">{tile.label}</span>
              <span class="tile-hint">{tile.hint}</span>
            </Link>
          </li>
        ))}
      </ul>

      <section class="panel" aria-labelledby="missed-work" data-testid="missed-work">
        <div class="panel-head">
          <h2 id="missed-work">{t("Missed work")}</h2>
          {can(user, "operational") ? <Link href="/schedules">{t("Schedules")} →</Link> : null}
        </div>
        <MissedWork occ={occ.data} schedules={schedules.data} error={occ.error} date={date} onChange={occ.reload} />
      </section>

      <div class="dash-grid">
        <section class="panel" aria-labelledby="overdue-issues">
          <div class="panel-head">
            <h2 id="overdue-issues">{t("Overdue now")}</h2>
            <Link href="/issues?overdue=true">{t("All overdue")} →</Link>
          </div>
          {overdue.error && !overdue.data ? (
            <Problem error={overdue.error} what={t("Issues")} onRetry={overdue.reload} />
          ) : !overdue.data ? (
            <Loading />
          ) : overdue.data.length > 0 ? (
            <IssueCards items={overdue.data.slice(0, 6)} />
          ) : (
            <Empty title={t("Nothing is overdue")} icon="task">
              {t("Every open ticket is within its deadline.")}
            </Empty>
          )}
        </section>

        <section class="panel" aria-labelledby="chat-activity">
          <div class="panel-head">
            <h2 id="chat-activity">{t("Chats")}</h2>
            {can(user, "messages") ? <Link href="/inbox">{t("Inbox")} →</Link> : null}
          </div>
          {dash.error && !d ? <Problem error={dash.error} what={t("Dashboard")} onRetry={dash.reload} /> : !d ? <Loading /> : <Chats chats={d.chats ?? []} canRead={can(user, "messages")} />}
        </section>
      </div>

      {d ? <StatusArea d={d} /> : null}
    </div>
  );
}

function MissedWork({
  occ,
  schedules,
  error,
  date,
  onChange,
}: {
  occ: Occurrence[] | null;
  schedules: Schedule[] | null;
  error: import("../api").ApiError | null;
  date: string;
  onChange: () => void;
}) {
  if (error && !occ) return <Problem error={error} what={t("Missed work")} />;
  if (!occ) return <Loading />;
  if (occ.length === 0) {
    return (
      <Empty title={t("Nothing was expected {day}", { day: dayWord(date) })} icon="calendar">
        {t("Add a schedule to say what work is expected, and tapak compares it with what is reported.")}
      </Empty>
    );
  }
  const rows = missedRows(occ, schedules ?? []);
  const problems = occ.filter((o) => o.status === "missed" || o.status === "late" || o.status === "missing_photo" || o.status === "blocked");
  return (
    <>
      <div class="table-wrap" tabIndex={0}>
        <table class="table table-compact" data-testid="missed-table">
          <caption class="visually-hidden">{t("Expected against reported per site, block and person")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("Site")}</th>
              <th scope="col">{t("Block")}</th>
              <th scope="col">{t("Who")}</th>
              <th scope="col" class="num">
                {t("Reported")}
              </th>
              <th scope="col">{t("Flags")}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.key} class={r.missed ? "row-breached" : undefined}>
                <td>{r.site}</td>
                <td>{r.block}</td>
                <td>{r.person}</td>
                <td class="num">{t("{a} of {b}", { a: r.reported, b: r.expected })}</td>
                <td>
                  {r.missed ? <span class="tag tag-alert">{tn(r.missed, "{n} missed", "{n} missed")}</span> : null}
                  {r.late ? <span class="tag tag-warn">{tn(r.late, "{n} late", "{n} late")}</span> : null}
                  {r.noPhoto ? <span class="tag tag-warn">{tn(r.noPhoto, "{n} no photo", "{n} no photo")}</span> : null}
                  {!r.missed && !r.late && !r.noPhoto ? <span class="muted">—</span> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {problems.length > 0 ? <OccurrenceRows items={problems} onChange={onChange} /> : <p class="muted">{t("Everything expected so far was reported on time.")}</p>}
    </>
  );
}

function Chats({ chats, canRead }: { chats: ChatActivity[]; canRead: boolean }) {
  const [hours, setHours] = useState(silentHours());
  if (chats.length === 0) {
    return (
      <Empty title={t("No chats yet")} icon="chat">
        {t("Connect a WhatsApp group or import a chat export.")}
      </Empty>
    );
  }
  const now = Date.now();
  const isSilent = (c: ChatActivity) => !c.last_message_at || now - new Date(c.last_message_at).getTime() > hours * 3600_000;
  const silent = chats.filter(isSilent);
  return (
    <>
      {silent.length > 0 ? (
        <p class="notice notice-warn" role="status" data-testid="silent-chats">
          <strong>{tn(silent.length, "{n} chat has been silent for over {h} hours.", "{n} chats have been silent for over {h} hours.", { h: hours })}</strong>{" "}
          {t("Check that the WhatsApp connection is still working.")}
        </p>
      ) : (
        <p class="muted" data-testid="silent-chats-ok">
          {t("Every chat had a message in the last {h} hours.", { h: hours })}
        </p>
      )}
      <label class="field field-inline">
        <span>{t("Warn when a chat is silent for")}</span>
        <select
          name="silent-hours"
          value={String(hours)}
          onChange={(e) => {
            const h = Number(e.currentTarget.value);
            setSilentHours(h);
            setHours(h);
          }}
        >
          {SILENT_CHOICES.map((h) => (
            <option key={h} value={String(h)}>
              {tn(h, "{n} hour", "{n} hours")}
            </option>
          ))}
        </select>
      </label>
      <ul class="chat-list">
        {chats.map((c) => (
          <li key={String(c.id)} class="chat-row" data-silent={isSilent(c) ? "true" : "false"}>
            {canRead ? (
              <Link href={`/inbox?chat=${encodeURIComponent(String(c.id))}`} class="chat-name">
                {c.name ?? String(c.id)}
              </Link>
            ) : (
              <span class="chat-name">{c.name ?? String(c.id)}</span>
            )}
            <span class="chat-count">{typeof c.messages === "number" ? tn(c.messages, "{n} message", "{n} messages") : ""}</span>
            <time class={`chat-last${isSilent(c) ? " chat-stale" : ""}`} dateTime={isoAttr(c.last_message_at)} title={formatDateTime(c.last_message_at)}>
              {c.last_message_at ? relative(c.last_message_at) : t("no messages")}
            </time>
          </li>
        ))}
      </ul>
    </>
  );
}

/** Technical numbers (downloads, processing) out of the manager's way. */
function StatusArea({ d }: { d: DashboardData }) {
  const pending = d.media_pending ?? 0;
  const failed = d.media_failed ?? 0;
  const unprocessed = (d as { messages_unprocessed?: number }).messages_unprocessed ?? 0;
  const attention = failed > 0;
  return (
    <details class="panel status-area" open={attention} data-testid="status-area">
      <summary>
        <h2 class="status-title">{t("System status")}</h2>
        <span class={`tag tag-${attention ? "alert" : "ok"}`}>{attention ? t("needs a look") : t("all fine")}</span>
      </summary>
      <dl class="facts">
        <div class="fact" data-key="media-pending">
          <dt>{t("Photos still downloading")}</dt>
          <dd>{formatNumber(pending)}</dd>
        </div>
        <div class="fact" data-key="media-failed">
          <dt>{t("Photos that could not be downloaded")}</dt>
          <dd>{formatNumber(failed)}</dd>
        </div>
        <div class="fact" data-key="unprocessed">
          <dt>{t("Messages waiting to be filed")}</dt>
          <dd>{formatNumber(unprocessed)}</dd>
        </div>
        <div class="fact" data-key="messages-today">
          <dt>{t("Messages today")}</dt>
          <dd>{formatNumber(d.messages_today ?? 0)}</dd>
        </div>
      </dl>
    </details>
  );
}

/** "about 7 s" / "about 3 min" / "about 2 h" for a countdown. */
function aboutTime(seconds: number): string {
  if (seconds < 90) return t("about {n} s", { n: Math.max(1, Math.round(seconds)) });
  if (seconds < 90 * 60) return t("about {n} min", { n: Math.round(seconds / 60) });
  return t("about {n} h", { n: Math.round(seconds / 3600) });
}

/** After a burst, the messages are acknowledged and stored at once but filed into records a little later: say so. */
function CatchingUp({ backlog }: { backlog: Backlog }) {
  const n = backlog.deliveries_waiting;
  const rate = backlog.filing_per_second ?? 0;
  const left = backlog.seconds_left;
  const pace =
    rate > 0
      ? typeof left === "number"
        ? t(" ({rate} a second, {left} left)", { rate: Math.round(rate), left: aboutTime(left) })
        : t(" ({rate} a second)", { rate: Math.round(rate) })
      : "";
  return (
    <p class="notice notice-warn catching-up" role="status" data-testid="backlog">
      <strong>
        {tn(n, "Catching up: {n} update from WhatsApp received in a burst is being filed{pace}.", "Catching up: {n} updates from WhatsApp received in a burst are being filed{pace}.", { pace })}
      </strong>{" "}
      {t("They are stored safely; the numbers, tickets, tasks and search below fill in as they are filed.")}
    </p>
  );
}
