// The daily / weekly / monthly report of GET /api/v1/reports/{period}: the period's numbers against the previous
// period, each linking to its records, small inline bar charts, scorecards, and downloads in every format.
import { DateInput } from "../components/DateInput";
import { SiteSelect } from "../components/SiteSelect";
import { Empty, Loading, Problem } from "../components/States";
import { formatDay, todayKey } from "../format";
import { useResource } from "../hooks";
import { formatDuration, formatNumber, t } from "../i18n";
import { Link, setQuery, useLocation } from "../router";
import type { Ref } from "../types";

interface Period {
  kind: string;
  first_day: string;
  last_day: string;
}
interface Summary {
  tickets_opened: number;
  tickets_resolved: number;
  tickets_open_at_end: number;
  late_to_respond: number;
  late_to_resolve: number;
  mean_acknowledge_seconds: number | null;
  mean_resolve_seconds: number | null;
  tasks: number;
  scheduled_expected: number;
  scheduled_done: number;
  completion_rate: number | null;
  repeats: number;
  messages: number;
}
interface Breakdown {
  key: string;
  expected: number;
  done_on_time: number;
  late: number;
  missed: number;
  missing_photo: number;
  completion_rate: number | null;
}
interface Card {
  tickets_owned: number;
  tickets_resolved: number;
  within_sla_rate: number | null;
  mean_resolve_seconds: number | null;
  reports_sent: number;
  reports_on_time: number;
  photos_sent: number;
}
interface Scorecard {
  name: string;
  vendor?: Ref | null;
  current: Card;
  previous: Card;
  trend: string | null;
}
export interface Report {
  period: Period;
  previous_period: Period;
  summary: Summary;
  previous: Summary;
  tickets: { overdue_now: number; ids: Record<string, number[]> };
  scheduled: { by_block: Breakdown[]; by_person: Breakdown[]; by_schedule: Breakdown[] };
  tasks: { total: number; by_location: { key: string; count: number }[]; by_category: { key: string; count: number }[] };
  scorecards: { people: Scorecard[]; vendors?: Scorecard[] };
  reminders: { sent: number; answered_within_window: number; window_minutes: number };
  warnings?: string[];
}

export const PERIODS = ["daily", "weekly", "monthly"];
const FORMATS = [
  ["csv", "CSV"],
  ["xlsx", "Excel"],
  ["html", "HTML"],
  ["pdf", "PDF"],
];

const pct = (r: number | null | undefined) => (r === null || r === undefined ? "—" : `${formatNumber(r * 100)}%`);
const dur = (s: number | null | undefined) => (s === null || s === undefined ? "—" : formatDuration(s / 60));

/** "+2" / "−1" / "±0" against the previous period. */
function Delta({ now, before, goodWhenUp }: { now: number; before: number; goodWhenUp: boolean }) {
  const d = now - before;
  const tone = d === 0 ? "plain" : (d > 0) === goodWhenUp ? "ok" : "alert";
  return (
    <span class={`delta delta-${tone}`} title={t("previous period: {n}", { n: formatNumber(before) })}>
      {d > 0 ? "+" : d < 0 ? "−" : "±"}
      {formatNumber(Math.abs(d))}
    </span>
  );
}

function Bars({ rows, label }: { rows: { key: string; value: number; text: string }[]; label: string }) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  if (rows.length === 0) return <p class="muted">{t("None")}</p>;
  return (
    <ul class="bars" aria-label={label}>
      {rows.map((r) => (
        <li key={r.key} class="bar-row">
          <span class="bar-key">{r.key === "(none)" ? t("Not given") : r.key}</span>
          <span class="bar-track" aria-hidden="true">
            <span class="bar-fill" style={{ width: `${Math.round((r.value / max) * 100)}%` }} />
          </span>
          <span class="bar-text">{r.text}</span>
        </li>
      ))}
    </ul>
  );
}

export function PeriodReport() {
  const { search } = useLocation();
  const period = PERIODS.includes(search.get("period") ?? "") ? (search.get("period") as string) : "daily";
  const date = search.get("date") ?? todayKey();
  const site = search.get("site") ?? "";
  const rep = useResource<Report>(`/reports/${period}`, { date, site });
  const r = rep.data;
  const q = (o: Record<string, string>) => new URLSearchParams(Object.entries(o).filter(([, v]) => v !== "")).toString();
  const range = r ? { from: r.period.first_day, to: r.period.last_day } : { from: date, to: date };
  const ids = (k: string) => `/issues?${q({ ids: (r?.tickets.ids[k] ?? []).join(",") })}`;
  const download = (f: string) => `/api/v1/reports/${period}/download?${q({ format: f, date, site })}`;
  const PERIOD_LABEL: Record<string, string> = { daily: t("Daily"), weekly: t("Weekly"), monthly: t("Monthly") };

  const numbers = r
    ? [
        { key: "opened", label: t("Tickets opened"), now: r.summary.tickets_opened, before: r.previous.tickets_opened, up: false, href: ids("opened") },
        { key: "resolved", label: t("Tickets resolved"), now: r.summary.tickets_resolved, before: r.previous.tickets_resolved, up: true, href: ids("resolved") },
        { key: "open_at_end", label: t("Open at the end"), now: r.summary.tickets_open_at_end, before: r.previous.tickets_open_at_end, up: false, href: ids("open_at_end") },
        { key: "late_to_respond", label: t("Answered late"), now: r.summary.late_to_respond, before: r.previous.late_to_respond, up: false, href: ids("late_to_respond") },
        { key: "late_to_resolve", label: t("Resolved late"), now: r.summary.late_to_resolve, before: r.previous.late_to_resolve, up: false, href: ids("late_to_resolve") },
        { key: "tasks", label: t("Tasks reported"), now: r.summary.tasks, before: r.previous.tasks, up: true, href: `/tasks?${q({ ...range, site })}` },
        { key: "scheduled", label: t("Scheduled work done"), now: r.summary.scheduled_done, before: r.previous.scheduled_done, up: true, href: `/occurrences?${q({ ...range, status: "fulfilled", site })}` },
        { key: "messages", label: t("Messages"), now: r.summary.messages, before: r.previous.messages, up: true, href: `/inbox?${q(range)}` },
      ]
    : [];

  return (
    <section class="panel period-report" aria-labelledby="h-period" data-testid="period-report">
      <div class="panel-head">
        <h2 id="h-period">{t("Period report")}</h2>
      </div>
      <div class="filters" role="group" aria-label={t("Period")}>
        <div class="seg" role="group" aria-label={t("Period")}>
          {PERIODS.map((p) => (
            <button key={p} type="button" class="btn btn-small" aria-pressed={period === p} data-period={p} onClick={() => setQuery({ period: p === "daily" ? null : p })}>
              {PERIOD_LABEL[p]}
            </button>
          ))}
        </div>
        <DateInput label={t("Day in the period")} name="report-date" value={date} onChange={(v) => setQuery({ date: v || null })} />
        <SiteSelect name="report-site" value={site} all={t("All sites")} onChange={(v) => setQuery({ site: v })} />
      </div>
      {rep.error && !r ? (
        <Problem error={rep.error} what={t("Period report")} onRetry={rep.reload} />
      ) : !r ? (
        <Loading />
      ) : (
        <>
          <p class="muted" data-testid="report-period">
            {r.period.first_day === r.period.last_day
              ? formatDay(r.period.first_day)
              : t("{from} to {to}", { from: formatDay(r.period.first_day), to: formatDay(r.period.last_day) })}
            {" · "}
            {t("compared with {from} to {to}", { from: formatDay(r.previous_period.first_day), to: formatDay(r.previous_period.last_day) })}
          </p>
          <ul class="tiles report-tiles">
            {numbers.map((n) => (
              <li key={n.key} class="tile tile-plain" data-number={n.key}>
                <Link href={n.href} class="tile-link">
                  <span class="tile-value">{formatNumber(n.now)}</span>
                  <span class="tile-label">{n.label}</span>
                  <span class="tile-hint">
                    <Delta now={n.now} before={n.before} goodWhenUp={n.up} />
                  </span>
                </Link>
              </li>
            ))}
          </ul>
          <dl class="facts">
            <div class="fact">
              <dt>{t("Mean time to acknowledge")}</dt>
              <dd>{dur(r.summary.mean_acknowledge_seconds)}</dd>
            </div>
            <div class="fact">
              <dt>{t("Mean time to resolve")}</dt>
              <dd>{dur(r.summary.mean_resolve_seconds)}</dd>
            </div>
            <div class="fact">
              <dt>{t("Scheduled work completed")}</dt>
              <dd>
                {pct(r.summary.completion_rate)} ({t("{a} of {b}", { a: r.summary.scheduled_done, b: r.summary.scheduled_expected })})
              </dd>
            </div>
            <div class="fact">
              <dt>{t("Reminders answered in time")}</dt>
              <dd>{t("{a} of {b}", { a: r.reminders.answered_within_window, b: r.reminders.sent })}</dd>
            </div>
            <div class="fact">
              <dt>{t("Overdue now")}</dt>
              <dd>
                <Link href="/issues?overdue=true">{formatNumber(r.tickets.overdue_now)}</Link>
              </dd>
            </div>
          </dl>
          <div class="report-charts">
            <div>
              <h3>{t("Scheduled work by block")}</h3>
              <Bars
                label={t("Scheduled work by block")}
                rows={r.scheduled.by_block.map((b) => ({ key: b.key, value: (b.completion_rate ?? 0) * 100, text: `${pct(b.completion_rate)} · ${t("{a} of {b}", { a: b.done_on_time + b.late, b: b.expected })}` }))}
              />
            </div>
            <div>
              <h3>{t("Tasks by place")}</h3>
              <Bars label={t("Tasks by place")} rows={r.tasks.by_location.slice(0, 8).map((x) => ({ key: x.key, value: x.count, text: formatNumber(x.count) }))} />
            </div>
          </div>
          <h3>{t("Scorecards")}</h3>
          {r.scorecards.people.length === 0 && (r.scorecards.vendors ?? []).length === 0 ? (
            <Empty title={t("Nobody had work in this period")} icon="user" />
          ) : (
            <div class="table-wrap" tabIndex={0}>
              <table class="table table-compact" data-testid="scorecards">
                <caption class="visually-hidden">{t("Scorecards")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("Who")}</th>
                    <th scope="col" class="num">
                      {t("Tickets")}
                    </th>
                    <th scope="col" class="num">
                      {t("Resolved in SLA")}
                    </th>
                    <th scope="col" class="num">
                      {t("Reports on time")}
                    </th>
                    <th scope="col" class="num">
                      {t("Photos")}
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {[...(r.scorecards.vendors ?? []).map((s) => ({ ...s, isVendor: true })), ...r.scorecards.people.map((s) => ({ ...s, isVendor: false }))].map((s) => (
                    <tr key={`${s.isVendor ? "v" : "p"}${s.name}`}>
                      <td>
                        {s.name}
                        {s.isVendor ? <span class="tag tag-plain">{t("Vendor")}</span> : s.vendor ? <div class="row-sub">{s.vendor.name}</div> : null}
                      </td>
                      <td class="num">{formatNumber(s.current.tickets_owned)}</td>
                      <td class="num">{pct(s.current.within_sla_rate)}</td>
                      <td class="num">{t("{a} of {b}", { a: s.current.reports_on_time, b: s.current.reports_sent })}</td>
                      <td class="num">{formatNumber(s.current.photos_sent)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {(r.warnings ?? []).length > 0 ? (
            <ul class="notice notice-warn">
              {(r.warnings ?? []).map((w, i) => (
                <li key={i} lang="en">{w}</li>
              ))}
            </ul>
          ) : null}
          <div class="poster-links" data-testid="report-downloads">
            <span>{t("Download")}:</span>
            {FORMATS.map(([f, name]) => (
              <a key={f} class="btn btn-small" href={download(f)} data-format={f} download>
                {t(name)}
              </a>
            ))}
          </div>
        </>
      )}
    </section>
  );
}
