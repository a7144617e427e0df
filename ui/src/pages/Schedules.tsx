// Schedules of expected work: list, create and edit with a recurrence picker (the RRULE is generated), QR posters,
// and each schedule's occurrences with their reminders and excuses.
import { useMemo, useState } from "preact/hooks";
import { api } from "../api";
import { can, useUser } from "../auth";
import { DateInput } from "../components/DateInput";
import { SiteSelect } from "../components/SiteSelect";
import { ActionError, ConfirmDialog, useAction } from "../components/Dialog";
import { PageHeader } from "../components/Layout";
import { Empty, LoadMore, Loading, Problem } from "../components/States";
import { CATEGORIES, formatLocation, humanize, timeZone, todayKey } from "../format";
import { useAll, useDocumentTitle, usePaged, useResource } from "../hooks";
import { formatDuration, t } from "../i18n";
import { Link, navigate } from "../router";
import type { Assignee, Checkpoint, Occurrence, PersonFull, Ref, Schedule, Vendor } from "../types";
import { OccurrenceRows } from "./Occurrences";

// ---------------------------------------------------------------------------------------------------------------
// Recurrence: the picker's model and the RRULE it stands for.

export type Repeat = "daily" | "weekdays" | "weekly" | "hourly";
export const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
const DAY_NAMES: Record<string, string> = { MO: "Mon", TU: "Tue", WE: "Wed", TH: "Thu", FR: "Fri", SA: "Sat", SU: "Sun" };

export interface Recurrence {
  repeat: Repeat;
  days: string[];
  hours: number;
  time: string; // HH:MM
  start: string; // YYYY-MM-DD
  tz: string;
}

/** The RFC 5545 text the server stores: `DTSTART;TZID=…:YYYYMMDDTHHMMSS` and an `RRULE:` line. */
export function toRrule(r: Recurrence): string {
  const [h, m] = r.time.split(":");
  const start = `DTSTART;TZID=${r.tz}:${r.start.replace(/-/g, "")}T${h.padStart(2, "0")}${(m ?? "00").padStart(2, "0")}00`;
  let rule: string;
  switch (r.repeat) {
    case "daily":
      rule = "FREQ=DAILY";
      break;
    case "weekdays":
      rule = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR";
      break;
    case "weekly":
      rule = `FREQ=WEEKLY;BYDAY=${WEEKDAYS.filter((d) => r.days.includes(d)).join(",")}`;
      break;
    case "hourly":
      rule = `FREQ=HOURLY;INTERVAL=${Math.max(1, Math.round(r.hours))}`;
      break;
  }
  return `${start}\nRRULE:${rule}`;
}

/** Reads a stored RRULE back into the picker; null when it uses something the picker cannot show. */
export function fromRrule(text: string): Recurrence | null {
  const start = /DTSTART(?:;TZID=([^:]+))?:(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})/i.exec(text);
  const rule = /RRULE:(\S+)/i.exec(text);
  if (!start || !rule) return null;
  const parts = new Map(rule[1].split(";").map((p) => p.split("=") as [string, string]));
  const freq = parts.get("FREQ");
  const known = new Set(["FREQ", "BYDAY", "INTERVAL"]);
  if ([...parts.keys()].some((k) => !known.has(k))) return null;
  const base = {
    days: [] as string[],
    hours: 2,
    time: `${start[5]}:${start[6]}`,
    start: `${start[2]}-${start[3]}-${start[4]}`,
    tz: start[1] ?? timeZone(),
  };
  const interval = Number(parts.get("INTERVAL") ?? "1");
  if (freq === "DAILY" && interval === 1 && !parts.has("BYDAY")) return { ...base, repeat: "daily" };
  if (freq === "WEEKLY" && interval === 1 && parts.has("BYDAY")) {
    const days = (parts.get("BYDAY") ?? "").split(",");
    if (!days.every((d) => WEEKDAYS.includes(d))) return null;
    if (days.length === 5 && ["MO", "TU", "WE", "TH", "FR"].every((d) => days.includes(d))) return { ...base, repeat: "weekdays" };
    return { ...base, repeat: "weekly", days };
  }
  if (freq === "HOURLY" && !parts.has("BYDAY")) return { ...base, repeat: "hourly", hours: interval };
  return null;
}

/** "Every day at 08:00", "Mon, Wed at 09:30", "Every 2 hours from 22:00". */
export function describe(text: string): string {
  const r = fromRrule(text);
  if (!r) return t("Custom recurrence");
  switch (r.repeat) {
    case "daily":
      return t("Every day at {time}", { time: r.time });
    case "weekdays":
      return t("Weekdays at {time}", { time: r.time });
    case "weekly":
      return t("{days} at {time}", { days: r.days.map((d) => t(DAY_NAMES[d])).join(", "), time: r.time });
    case "hourly":
      return t("Every {n} hours from {time}", { n: r.hours, time: r.time });
  }
}

function assigneeLabel(a: Assignee): string {
  return "vendor" in a ? t("{name} (vendor)", { name: a.vendor }) : a.name || `+${a.phone}`;
}

// ---------------------------------------------------------------------------------------------------------------
// List

export function Schedules() {
  useDocumentTitle(t("Schedules"));
  const user = useUser();
  const list = useAll<Schedule>("/schedules");
  return (
    <div class="page page-schedules">
      <PageHeader title={t("Schedules")} sub={t("Recurring work and whether it was reported on time.")}>
        {can(user, "manage") ? (
          <Link href="/schedules/new" class="btn btn-primary" data-action="new-schedule">
            {t("New schedule")}
          </Link>
        ) : null}
      </PageHeader>
      {list.error && !list.data ? (
        <Problem error={list.error} what={t("Schedules")} onRetry={list.reload} />
      ) : !list.data ? (
        <Loading />
      ) : list.data.length === 0 ? (
        <Empty title={t("No schedules yet")} icon="calendar">
          {t("A schedule says what work is expected when, so tapak can tell you what was missed.")}
        </Empty>
      ) : (
        <div class="table-wrap" tabIndex={0}>
          <table class="table table-compact">
            <caption class="visually-hidden">{t("Schedules")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("Schedule")}</th>
                <th scope="col">{t("When")}</th>
                <th scope="col">{t("Who")}</th>
                <th scope="col">{t("Report within")}</th>
                <th scope="col">{t("Photo")}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((s) => (
                <tr key={s.id} data-row="schedule">
                  <td>
                    <Link href={`/schedules/${s.id}`} class="row-title">
                      {s.name}
                    </Link>
                    <div class="row-sub">{[s.site?.name, formatLocation(s.location)].filter(Boolean).join(" · ")}</div>
                  </td>
                  <td>{describe(s.rrule)}</td>
                  <td>{s.assignees.map(assigneeLabel).join(", ") || <span class="muted">—</span>}</td>
                  <td>{formatDuration(s.window_minutes)}</td>
                  <td>{s.photo_required ? t("Required") : t("Not required")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Detail

export function ScheduleDetail({ id }: { id: string }) {
  const user = useUser();
  const s = useResource<Schedule>(`/schedules/${encodeURIComponent(id)}`);
  const occ = usePaged<Occurrence>("/occurrences", useMemo(() => ({ schedule: id }), [id]));
  useDocumentTitle(s.data?.name ?? t("Schedule"));
  const [deleting, setDeleting] = useState(false);
  if (s.error && !s.data) return <Problem error={s.error} what={t("Schedule")} onRetry={s.reload} />;
  if (!s.data) return <Loading />;
  const sc = s.data;
  const poster = (format: string, size: string) => `/api/v1/schedules/${sc.id}/posters?format=${format}&size=${size}`;
  return (
    <div class="page page-schedule">
      <Link href="/schedules" class="back-link">
        ← {t("Schedules")}
      </Link>
      <PageHeader title={sc.name} sub={describe(sc.rrule)}>
        {can(user, "manage") ? (
          <>
            <Link href={`/schedules/${sc.id}/edit`} class="btn btn-primary" data-action="edit-schedule">
              {t("Edit")}
            </Link>
            <button
              type="button"
              class="btn"
              data-action="delete-schedule"
              onClick={() => setDeleting(true)}
            >
              {t("Delete")}
            </button>
            {deleting ? (
              <ConfirmDialog
                title={t("Delete schedule")}
                text={t("Delete “{name}”? Past occurrences stay on record.", { name: sc.name })}
                submit={t("Delete")}
                run={() => api(`/schedules/${sc.id}`, { method: "DELETE" })}
                onClose={() => setDeleting(false)}
                onDone={() => navigate("/schedules")}
              />
            ) : null}
          </>
        ) : null}
      </PageHeader>
      <section class="panel">
        <dl class="facts">
          <div class="fact">
            <dt>{t("Site")}</dt>
            <dd>{sc.site?.name ?? "—"}</dd>
          </div>
          <div class="fact">
            <dt>{t("Work")}</dt>
            <dd>{[humanize(sc.category), formatLocation(sc.location)].filter(Boolean).join(" · ")}</dd>
          </div>
          <div class="fact">
            <dt>{t("Who")}</dt>
            <dd>{sc.assignees.map(assigneeLabel).join(", ") || "—"}</dd>
          </div>
          <div class="fact">
            <dt>{t("Report within")}</dt>
            <dd>{formatDuration(sc.window_minutes)}</dd>
          </div>
          <div class="fact">
            <dt>{t("Photo")}</dt>
            <dd>{sc.photo_required ? t("Required") : t("Not required")}</dd>
          </div>
          <div class="fact">
            <dt>{t("Reminders")}</dt>
            <dd>
              {[
                sc.remind_after_minutes !== null ? t("remind {d} after the due time", { d: formatDuration(sc.remind_after_minutes) }) : "",
                sc.escalate_after_minutes !== null
                  ? t("escalate to {who} after {d}", {
                      who: sc.escalate_to.map((p) => p.name || `+${p.phone}`).join(", ") || t("the site's managers"),
                      d: formatDuration(sc.escalate_after_minutes),
                    })
                  : "",
              ]
                .filter(Boolean)
                .join("; ") || t("none")}
            </dd>
          </div>
          {sc.checkpoints.length > 0 ? (
            <div class="fact">
              <dt>{t("Checkpoints")}</dt>
              <dd>{sc.checkpoints.map((c) => `${c.code} ${c.name}`).join(", ")}</dd>
            </div>
          ) : null}
        </dl>
        <div class="poster-links" data-testid="posters">
          <span>{t("QR posters")}:</span>
          <a class="btn btn-small" href={poster("pdf", "a4")} download={`posters-${sc.id}-a4.pdf`}>
            {t("PDF, A4")}
          </a>
          <a class="btn btn-small" href={poster("pdf", "a6")} download={`posters-${sc.id}-a6.pdf`}>
            {t("PDF, A6")}
          </a>
          <a class="btn btn-small" href={poster("png", "a4")} download={`posters-${sc.id}.png`}>
            {t("PNG")}
          </a>
        </div>
      </section>
      <section class="panel" aria-labelledby="occ-head">
        <div class="panel-head">
          <h2 id="occ-head">{t("Occurrences")}</h2>
        </div>
        {occ.error && occ.items.length === 0 ? (
          <Problem error={occ.error} what={t("Occurrences")} onRetry={occ.reload} />
        ) : !occ.loaded ? (
          <Loading />
        ) : occ.items.length === 0 ? (
          <Empty title={t("No occurrences yet")} icon="calendar" />
        ) : (
          <>
            <OccurrenceRows items={occ.items} showSchedule={false} onChange={(o) => occ.patch((xs) => xs.map((x) => (x.id === o.id ? o : x)))} />
            <LoadMore hasMore={occ.hasMore} loading={occ.loading} onClick={occ.loadMore} count={occ.items.length} />
          </>
        )}
      </section>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Create / edit

const ZONES = ["Asia/Kuala_Lumpur", "Asia/Singapore", "Asia/Jakarta", "Asia/Bangkok", "Asia/Manila", "Asia/Kolkata", "UTC"];

interface Draft {
  name: string;
  site: string;
  category: string;
  block: string;
  level: string;
  area: string;
  chat: string;
  assignees: Assignee[];
  rec: Recurrence;
  custom: string | null; // a stored RRULE the picker cannot show, kept as it is unless the picker is used
  window: number;
  photo: boolean;
  remind: string;
  escalate: string;
  escalateTo: { name?: string | null; phone: string }[];
  checkpoints: Checkpoint[];
}

function draftOf(s: Schedule | null): Draft {
  const rec = s ? fromRrule(s.rrule) : null;
  return {
    name: s?.name ?? "",
    site: s?.site ? String(s.site.id) : "",
    category: s?.category ?? "cleaning",
    block: s?.location?.block ?? "",
    level: s?.location?.level ?? "",
    area: s?.location?.area ?? "",
    chat: s?.chat ? String(s.chat.id) : "",
    assignees: s?.assignees ?? [],
    rec: rec ?? { repeat: "daily", days: ["MO"], hours: 2, time: "08:00", start: todayKey(), tz: timeZone() },
    custom: s && !rec ? s.rrule : null,
    window: s?.window_minutes ?? 60,
    photo: s?.photo_required ?? true,
    remind: s?.remind_after_minutes !== null && s?.remind_after_minutes !== undefined ? String(s.remind_after_minutes) : "15",
    escalate: s?.escalate_after_minutes !== null && s?.escalate_after_minutes !== undefined ? String(s.escalate_after_minutes) : "",
    escalateTo: s?.escalate_to ?? [],
    checkpoints: s?.checkpoints ?? [],
  };
}

function bodyOf(d: Draft): Record<string, unknown> {
  const num = (v: string) => (v.trim() === "" ? null : Number(v));
  return {
    name: d.name.trim(),
    site: d.site || null,
    category: d.category,
    location: Object.fromEntries(
      Object.entries({ block: d.block.trim(), level: d.level.trim(), area: d.area.trim() }).filter(([, v]) => v !== ""),
    ),
    chat: d.chat || null,
    assignees: d.assignees,
    rrule: d.custom ?? toRrule(d.rec),
    window_minutes: d.window,
    photo_required: d.photo,
    remind_after_minutes: num(d.remind),
    escalate_after_minutes: num(d.escalate),
    escalate_to: d.escalateTo,
    checkpoints: d.rec.repeat === "hourly" ? d.checkpoints.filter((c) => c.code.trim() !== "") : [],
  };
}

export function ScheduleEdit({ id }: { id: string | null }) {
  const s = useResource<Schedule>(id ? `/schedules/${encodeURIComponent(id)}` : null);
  useDocumentTitle(id ? t("Edit schedule") : t("New schedule"));
  if (id && s.error && !s.data) return <Problem error={s.error} what={t("Schedule")} onRetry={s.reload} />;
  if (id && !s.data) return <Loading />;
  return <ScheduleForm key={id ?? "new"} initial={s.data} />;
}

function ScheduleForm({ initial }: { initial: Schedule | null }) {
  const [d, setD] = useState<Draft>(() => draftOf(initial));
  const set = (patch: Partial<Draft>) => setD((x) => ({ ...x, ...patch }));
  const setRec = (patch: Partial<Recurrence>) => setD((x) => ({ ...x, custom: null, rec: { ...x.rec, ...patch } }));
  const chats = useResource<{ items: Ref[] }>("/chats", { limit: 500 });
  const people = useResource<{ items: PersonFull[] }>("/people", { limit: 500 });
  const vendors = useResource<{ items: Vendor[] }>("/vendors", { limit: 500 });
  const act = useAction();
  const [pick, setPick] = useState("");
  const [pickEsc, setPickEsc] = useState("");

  const weeklyEmpty = d.rec.repeat === "weekly" && d.rec.days.length === 0;
  const escalateWithoutWhom = d.escalate.trim() !== "" && d.escalateTo.length === 0;
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = bodyOf(d);
    const r = await act.run(() =>
      initial
        ? api<Schedule>(`/schedules/${initial.id}`, { method: "PATCH", body })
        : api<Schedule>("/schedules", { method: "POST", body }),
    );
    if (r) navigate(`/schedules/${r.id}`);
  };
  const addAssignee = (v: string) => {
    if (!v) return;
    const [kind, key] = v.split(":", 2);
    let a: Assignee | null = null;
    if (kind === "v") a = { vendor: key };
    else {
      const p = people.data?.items.find((x) => String(x.id) === key);
      if (p?.phone) a = { name: p.name, phone: p.phone };
    }
    if (a && !d.assignees.some((x) => assigneeLabel(x) === assigneeLabel(a as Assignee))) set({ assignees: [...d.assignees, a] });
    setPick("");
  };
  const withPhone = (people.data?.items ?? []).filter((p) => p.phone);

  return (
    <div class="page page-schedule-edit">
      <Link href={initial ? `/schedules/${initial.id}` : "/schedules"} class="back-link">
        ← {initial ? initial.name : t("Schedules")}
      </Link>
      <PageHeader title={initial ? t("Edit schedule") : t("New schedule")} />
      <form class="form panel schedule-form" onSubmit={submit}>
        <fieldset>
          <legend>{t("What")}</legend>
          <label class="field">
            <span>{t("Name")}</span>
            <input name="name" required maxLength={120} value={d.name} onInput={(e) => set({ name: e.currentTarget.value })} placeholder={t("e.g. Block A lobby: morning mop")} />
          </label>
          <div class="form-row">
            <SiteSelect name="site" inline={false} value={d.site} all={t("No site")} onChange={(v) => set({ site: v })} />
            <label class="field">
              <span>{t("Category")}</span>
              <select name="category" value={d.category} onChange={(e) => set({ category: e.currentTarget.value })}>
                {CATEGORIES.map((c) => (
                  <option key={c} value={c}>
                    {humanize(c)}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <div class="form-row">
            <label class="field">
              <span>{t("Block")}</span>
              <input name="block" value={d.block} onInput={(e) => set({ block: e.currentTarget.value })} />
            </label>
            <label class="field">
              <span>{t("Level")}</span>
              <input name="level" value={d.level} onInput={(e) => set({ level: e.currentTarget.value })} />
            </label>
            <label class="field">
              <span>{t("Area")}</span>
              <input name="area" value={d.area} onInput={(e) => set({ area: e.currentTarget.value })} placeholder={t("e.g. lobby, carpark")} />
            </label>
          </div>
        </fieldset>

        <fieldset data-testid="recurrence">
          <legend>{t("When")}</legend>
          <div class="choice-row" role="radiogroup" aria-label={t("Repeats")}>
            {(
              [
                ["daily", t("Every day")],
                ["weekdays", t("Weekdays")],
                ["weekly", t("Weekly on days")],
                ["hourly", t("Every few hours (patrols)")],
              ] as [Repeat, string][]
            ).map(([v, label]) => (
              <label key={v} class="chip choice">
                <input type="radio" name="repeat" value={v} checked={!d.custom && d.rec.repeat === v} onChange={() => setRec({ repeat: v })} />
                <span>{label}</span>
              </label>
            ))}
          </div>
          {d.custom ? (
            <p class="notice notice-warn">
              {t("This schedule uses a recurrence the picker cannot show; it is kept as it is unless you choose one above.")}
            </p>
          ) : null}
          {d.rec.repeat === "weekly" && !d.custom ? (
            <div class="choice-row" role="group" aria-label={t("Days")}>
              {WEEKDAYS.map((day) => (
                <label key={day} class="chip choice">
                  <input
                    type="checkbox"
                    name={`day-${day}`}
                    checked={d.rec.days.includes(day)}
                    onChange={(e) => setRec({ days: e.currentTarget.checked ? [...d.rec.days, day] : d.rec.days.filter((x) => x !== day) })}
                  />
                  <span>{t(DAY_NAMES[day])}</span>
                </label>
              ))}
            </div>
          ) : null}
          <div class="form-row">
            {d.rec.repeat === "hourly" && !d.custom ? (
              <label class="field">
                <span>{t("Every (hours)")}</span>
                <input type="number" name="hours" min={1} max={24} value={d.rec.hours} onInput={(e) => setRec({ hours: Number(e.currentTarget.value) || 1 })} />
              </label>
            ) : null}
            <label class="field">
              <span>{d.rec.repeat === "hourly" ? t("First round at") : t("Start time")}</span>
              <input type="time" name="time" required value={d.rec.time} onInput={(e) => setRec({ time: e.currentTarget.value || "08:00" })} />
            </label>
            <DateInput label={t("Starting from")} name="start" inline={false} value={d.rec.start} onChange={(v) => v && setRec({ start: v })} />
            <label class="field">
              <span>{t("Time zone")}</span>
              <select name="tz" value={d.rec.tz} onChange={(e) => setRec({ tz: e.currentTarget.value })}>
                {(ZONES.includes(d.rec.tz) ? ZONES : [d.rec.tz, ...ZONES]).map((z) => (
                  <option key={z} value={z}>
                    {z}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <p class="muted" data-testid="recurrence-summary">
            {d.custom ? t("Custom recurrence") : describe(toRrule(d.rec))}
          </p>
          <details class="advanced">
            <summary>{t("Advanced: the rule as stored")}</summary>
            <code class="rrule" data-testid="rrule">
              {d.custom ?? toRrule(d.rec)}
            </code>
          </details>
          <label class="field">
            <span>{t("Report within (minutes)")}</span>
            <input type="number" name="window" min={1} max={10080} required value={d.window} onInput={(e) => set({ window: Number(e.currentTarget.value) || 0 })} />
            <small class="field-hint">{formatDuration(d.window)}</small>
          </label>
        </fieldset>

        {d.rec.repeat === "hourly" && !d.custom ? (
          <fieldset>
            <legend>{t("Patrol checkpoints")}</legend>
            {d.checkpoints.map((c, i) => (
              <div class="form-row" key={i}>
                <label class="field">
                  <span>{t("Code")}</span>
                  <input name={`checkpoint-code-${i}`} value={c.code} onInput={(e) => set({ checkpoints: d.checkpoints.map((x, j) => (j === i ? { ...x, code: e.currentTarget.value } : x)) })} />
                </label>
                <label class="field">
                  <span>{t("Place")}</span>
                  <input name={`checkpoint-name-${i}`} value={c.name} onInput={(e) => set({ checkpoints: d.checkpoints.map((x, j) => (j === i ? { ...x, name: e.currentTarget.value } : x)) })} />
                </label>
                <button type="button" class="btn btn-small" onClick={() => set({ checkpoints: d.checkpoints.filter((_, j) => j !== i) })}>
                  {t("Remove")}
                </button>
              </div>
            ))}
            <button type="button" class="btn btn-small" onClick={() => set({ checkpoints: [...d.checkpoints, { code: `CP${d.checkpoints.length + 1}`, name: "" }] })}>
              {t("Add checkpoint")}
            </button>
          </fieldset>
        ) : null}

        <fieldset>
          <legend>{t("Who")}</legend>
          <ul class="chip-list" aria-label={t("Assignees")}>
            {d.assignees.map((a, i) => (
              <li key={i} class="chip">
                {assigneeLabel(a)}
                <button type="button" class="chip-x" aria-label={t("Remove {name}", { name: assigneeLabel(a) })} onClick={() => set({ assignees: d.assignees.filter((_, j) => j !== i) })}>
                  ×
                </button>
              </li>
            ))}
          </ul>
          <label class="field">
            <span>{t("Add a person or vendor")}</span>
            <select name="assignee" value={pick} onChange={(e) => addAssignee(e.currentTarget.value)}>
              <option value="">{t("Choose…")}</option>
              <optgroup label={t("People")}>
                {withPhone.map((p) => (
                  <option key={String(p.id)} value={`p:${p.id}`}>
                    {p.name || `+${p.phone}`}
                    {p.vendor ? ` (${p.vendor.name})` : ""}
                  </option>
                ))}
              </optgroup>
              <optgroup label={t("Vendors")}>
                {vendors.data?.items.map((v) => (
                  <option key={String(v.id)} value={`v:${v.name}`}>
                    {v.name}
                  </option>
                ))}
              </optgroup>
            </select>
          </label>
          <label class="field">
            <span>{t("Chat where the work is reported")}</span>
            <select name="chat" value={d.chat} onChange={(e) => set({ chat: e.currentTarget.value })}>
              <option value="">{t("Any chat")}</option>
              {chats.data?.items.map((c) => (
                <option key={String(c.id)} value={String(c.id)}>
                  {c.name ?? String(c.id)}
                </option>
              ))}
            </select>
          </label>
          <label class="field field-check">
            <input type="checkbox" name="photo" checked={d.photo} onChange={(e) => set({ photo: e.currentTarget.checked })} />
            <span>{t("A photo is required")}</span>
          </label>
        </fieldset>

        <fieldset>
          <legend>{t("Reminders")}</legend>
          <div class="form-row">
            <label class="field">
              <span>{t("Remind the assignees (minutes after the due time)")}</span>
              <input type="number" name="remind" min={0} value={d.remind} onInput={(e) => set({ remind: e.currentTarget.value })} placeholder={t("none")} />
            </label>
            <label class="field">
              <span>{t("Escalate (minutes after the due time)")}</span>
              <input type="number" name="escalate" min={0} value={d.escalate} onInput={(e) => set({ escalate: e.currentTarget.value })} placeholder={t("none")} />
            </label>
          </div>
          <ul class="chip-list" aria-label={t("Escalate to")}>
            {d.escalateTo.map((p, i) => (
              <li key={i} class="chip">
                {p.name || `+${p.phone}`}
                <button type="button" class="chip-x" aria-label={t("Remove {name}", { name: p.name || p.phone })} onClick={() => set({ escalateTo: d.escalateTo.filter((_, j) => j !== i) })}>
                  ×
                </button>
              </li>
            ))}
          </ul>
          <label class="field">
            <span>{t("Escalate to")}</span>
            <select
              name="escalate-to"
              value={pickEsc}
              onChange={(e) => {
                const p = withPhone.find((x) => String(x.id) === e.currentTarget.value);
                if (p?.phone && !d.escalateTo.some((x) => x.phone === p.phone)) set({ escalateTo: [...d.escalateTo, { name: p.name, phone: p.phone }] });
                setPickEsc("");
              }}
            >
              <option value="">{t("Choose…")}</option>
              {withPhone.map((p) => (
                <option key={String(p.id)} value={String(p.id)}>
                  {p.name || `+${p.phone}`}
                </option>
              ))}
            </select>
          </label>
        </fieldset>

        {escalateWithoutWhom ? (
          <p class="form-error" role="alert">
            {t("Choose whom to escalate to, or leave the escalation time empty.")}
          </p>
        ) : null}
        <ActionError error={act.error} />
        <div class="dialog-actions">
          <Link href={initial ? `/schedules/${initial.id}` : "/schedules"} class="btn">
            {t("Cancel")}
          </Link>
          <button type="submit" class="btn btn-primary" disabled={act.busy || weeklyEmpty || escalateWithoutWhom || d.name.trim() === ""} aria-busy={act.busy}>
            {act.busy ? t("Saving…") : initial ? t("Save changes") : t("Create schedule")}
          </button>
        </div>
      </form>
    </div>
  );
}
