// Tasks: a compact table of the reports of a day (or range), a grid of the day by block ("did Block C get
// cleaned?"), filters by site, block, person and schedule, and a "no photo" flag.
import { useMemo } from "preact/hooks";
import { StatusBadge } from "../components/Badges";
import { DateInput } from "../components/DateInput";
import { SiteSelect } from "../components/SiteSelect";
import { EvidenceStrip } from "../components/EvidenceView";
import { PageHeader } from "../components/Layout";
import { Empty, Loading, Problem } from "../components/States";
import { CATEGORIES, formatDateTime, formatLocation, formatTime, humanize, isoAttr, personName, shiftDay, TASK_STATUSES, todayKey } from "../format";
import { useAll, useDocumentTitle, useResource } from "../hooks";
import { formatNumber, t, tn } from "../i18n";
import { setQuery, useLocation } from "../router";
import type { Evidence, Occurrence, Page, PersonFull, Schedule, Task } from "../types";
import { Select } from "./Issues";

const hasPhoto = (task: Task) => (task.evidence ?? []).some((e) => typeof e === "object" && e !== null && (e as Evidence).kind === "photo");
const blockOf = (task: Task) => task.location?.block ?? "";
const NO_BLOCK = "—";

function taskTitle(task: Task): string {
  return task.title || [humanize(task.category) || t("Task"), formatLocation(task.location)].filter(Boolean).join(" — ");
}

export function Tasks() {
  useDocumentTitle(t("Tasks"));
  const { search } = useLocation();
  const today = todayKey();
  const from = search.get("from") ?? today;
  const to = search.get("to") ?? (search.get("from") ? "" : today);
  const status = search.get("status") ?? "";
  const category = search.get("category") ?? "";
  const site = search.get("site") ?? "";
  const person = search.get("person") ?? "";
  const block = search.get("block") ?? "";
  const schedule = search.get("schedule") ?? "";
  const noPhoto = search.get("photo") === "none";
  const view = search.get("view") === "grid" ? "grid" : search.get("view") === "cards" ? "cards" : "table";

  // Schedule and "no photo" are filtered by the server; the block is filtered here, so the block list stays whole.
  const query = useMemo(
    () => ({ from, to, status, category, site, person, schedule, photo: noPhoto ? "none" : "" }),
    [from, to, status, category, site, person, schedule, noPhoto],
  );
  const list = useAll<Task>("/tasks", query);
  const occ = useAll<Occurrence>("/occurrences", useMemo(() => ({ from, to: to || from, site }), [from, to, site]));
  const schedules = useAll<Schedule>("/schedules");
  const people = useResource<Page<PersonFull>>("/people", { limit: 500 });

  // The occurrence each task fulfilled, and so its schedule.
  const scheduleOfTask = useMemo(() => {
    const m = new Map<string, { id: number; name: string | null }>();
    for (const o of occ.data ?? []) if (o.task !== null) m.set(String(o.task), o.schedule);
    return m;
  }, [occ.data]);
  const all = list.data ?? [];
  const blocks = [...new Set(all.map(blockOf).filter(Boolean))].sort();
  const items = all.filter(
    (task) =>
      (!block || (block === NO_BLOCK ? !blockOf(task) : blockOf(task) === block)) &&
      (!schedule || String(scheduleOfTask.get(String(task.id))?.id ?? "") === schedule) &&
      (!noPhoto || !hasPhoto(task)),
  );
  const anyFilter = !!(status || category || site || person || block || schedule || noPhoto);
  const yesterday = shiftDay(today, -1);

  return (
    <div class="page page-tasks">
      <PageHeader title={t("Tasks")} sub={t("Routine work reported done, in progress or blocked.")}>
        <div class="seg" role="group" aria-label={t("View")}>
          {(
            [
              ["table", t("Table")],
              ["grid", t("By block")],
              ["cards", t("Cards")],
            ] as [string, string][]
          ).map(([v, label]) => (
            <button key={v} type="button" class="btn btn-small" aria-pressed={view === v} data-view={v} onClick={() => setQuery({ view: v === "table" ? null : v })}>
              {label}
            </button>
          ))}
        </div>
      </PageHeader>
      <div class="filters" role="group" aria-label={t("Filters")}>
        <button type="button" class="btn btn-small" aria-pressed={from === today && to === today} onClick={() => setQuery({ from: null, to: null })}>
          {t("Today")}
        </button>
        <button type="button" class="btn btn-small" aria-pressed={from === yesterday && to === yesterday} onClick={() => setQuery({ from: yesterday, to: yesterday })}>
          {t("Yesterday")}
        </button>
        <DateInput label={t("From")} name="from" value={from} onChange={(v) => setQuery({ from: v })} />
        <DateInput label={t("To")} name="to" value={to} onChange={(v) => setQuery({ to: v })} />
        <Select label={t("Status")} value={status} name="status" options={TASK_STATUSES} all={t("Any status")} />
        <Select label={t("Category")} value={category} name="category" options={CATEGORIES} all={t("Any category")} />
        <SiteSelect name="site" value={site} all={t("All sites")} onChange={(v) => setQuery({ site: v })} />
        <label class="field field-inline">
          <span>{t("Block")}</span>
          <select name="block" value={block} onChange={(e) => setQuery({ block: e.currentTarget.value })}>
            <option value="">{t("All blocks")}</option>
            {blocks.map((b) => (
              <option key={b} value={b}>
                {t("Block {b}", { b })}
              </option>
            ))}
            <option value={NO_BLOCK}>{t("No block")}</option>
          </select>
        </label>
        <label class="field field-inline">
          <span>{t("Person")}</span>
          <select name="person" value={person} onChange={(e) => setQuery({ person: e.currentTarget.value })}>
            <option value="">{t("Everyone")}</option>
            {people.data?.items.map((p) => (
              <option key={String(p.id)} value={String(p.id)}>
                {personName(p)}
              </option>
            ))}
          </select>
        </label>
        <label class="field field-inline">
          <span>{t("Schedule")}</span>
          <select name="schedule" value={schedule} onChange={(e) => setQuery({ schedule: e.currentTarget.value })}>
            <option value="">{t("Any schedule")}</option>
            {schedules.data?.map((s) => (
              <option key={s.id} value={String(s.id)}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label class="field field-check">
          <input type="checkbox" name="no-photo" checked={noPhoto} onChange={(e) => setQuery({ photo: e.currentTarget.checked ? "none" : null })} />
          <span>{t("Only without a photo")}</span>
        </label>
        {anyFilter ? (
          <button
            type="button"
            class="btn btn-quiet"
            onClick={() => setQuery({ status: null, category: null, site: null, person: null, block: null, schedule: null, photo: null })}
          >
            {t("Clear all")}
          </button>
        ) : null}
      </div>

      {list.error && !list.data ? (
        <Problem error={list.error} what={t("Tasks")} onRetry={list.reload} />
      ) : !list.data ? (
        <Loading label={t("Loading tasks…")} />
      ) : view === "grid" ? (
        <BlockGrid tasks={items} occ={occ.data ?? []} schedules={schedules.data ?? []} />
      ) : items.length === 0 ? (
        <Empty title={anyFilter ? t("No tasks match these filters") : t("No tasks reported in these days")} icon="task">
          {anyFilter ? t("Remove a filter to see more.") : t("Task entries appear when staff report work like “Done cleaning Block A”.")}
        </Empty>
      ) : (
        <>
          <p class="list-count" data-testid="task-count">
            {tn(items.length, "{n} task", "{n} tasks")} · {tn(items.filter((x) => !hasPhoto(x)).length, "{n} without a photo", "{n} without a photo")}
          </p>
          {view === "cards" ? <TaskCards items={items} /> : <TaskTable items={items} scheduleOf={(task) => scheduleOfTask.get(String(task.id))?.name ?? null} />}
        </>
      )}
    </div>
  );
}

function NoPhoto() {
  return <span class="tag tag-warn tag-nophoto">{t("No photo")}</span>;
}

function TaskTable({ items, scheduleOf }: { items: Task[]; scheduleOf: (task: Task) => string | null }) {
  return (
    <div class="table-wrap" tabIndex={0}>
      <table class="table table-compact task-table">
        <caption class="visually-hidden">{t("Tasks")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("Time")}</th>
            <th scope="col">{t("Work")}</th>
            <th scope="col">{t("Who")}</th>
            <th scope="col">{t("Status")}</th>
            <th scope="col">{t("Photo")}</th>
            <th scope="col">{t("Schedule")}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((task) => {
            const photos = (task.evidence ?? []).filter((e) => typeof e === "object" && e !== null && (e as Evidence).kind === "photo").length;
            return (
              <tr key={String(task.id)} data-row="task" data-photo={photos > 0 ? "yes" : "no"} data-block={blockOf(task)}>
                <td class="nowrap">
                  <time dateTime={isoAttr(task.reported_at)} title={formatDateTime(task.reported_at)}>
                    {formatTime(task.reported_at)}
                  </time>
                </td>
                <td>
                  <span class="row-title-plain">{taskTitle(task)}</span>
                  {task.text ? <div class="row-sub clamp-1">{task.text}</div> : null}
                </td>
                <td>
                  {task.reported_by ? personName(task.reported_by) : "—"}
                  {task.site?.name ? <div class="row-sub">{task.site.name}</div> : null}
                </td>
                <td>
                  <StatusBadge status={task.status} />
                </td>
                <td>{photos > 0 ? formatNumber(photos) : <NoPhoto />}</td>
                <td>{scheduleOf(task) ?? <span class="muted">—</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function TaskCards({ items }: { items: Task[] }) {
  return (
    <ul class="card-list">
      {items.map((task) => (
        <li key={String(task.id)} class={`card task-card task-${task.status}`} data-row="task">
          <div class="card-row">
            <span class="card-title">{taskTitle(task)}</span>
            <StatusBadge status={task.status} />
            {hasPhoto(task) ? null : <NoPhoto />}
          </div>
          <p class="card-meta">
            {[task.reported_by ? personName(task.reported_by) : "", task.site?.name ?? "", task.chat?.name ?? ""].filter(Boolean).join(" · ")}
            {" · "}
            <time dateTime={isoAttr(task.reported_at)}>{formatDateTime(task.reported_at)}</time>
          </p>
          {task.text ? <p class="msg-text">{task.text}</p> : null}
          <EvidenceStrip items={task.evidence} context={task.reported_by ? personName(task.reported_by) : undefined} />
        </li>
      ))}
    </ul>
  );
}

interface GridRow {
  block: string;
  done: number;
  other: number;
  noPhoto: number;
  categories: Map<string, number>;
  expected: number;
  reported: number;
  missed: number;
  last: string | null;
}

/** One row per block: what was reported (by category), without photos, and the schedules' expected work. */
function BlockGrid({ tasks, occ, schedules }: { tasks: Task[]; occ: Occurrence[]; schedules: Schedule[] }) {
  const rows = new Map<string, GridRow>();
  const row = (b: string) => {
    let r = rows.get(b);
    if (!r) {
      r = { block: b, done: 0, other: 0, noPhoto: 0, categories: new Map(), expected: 0, reported: 0, missed: 0, last: null };
      rows.set(b, r);
    }
    return r;
  };
  for (const task of tasks) {
    const r = row(blockOf(task) || NO_BLOCK);
    if (task.status === "done") r.done++;
    else r.other++;
    if (!hasPhoto(task)) r.noPhoto++;
    const c = task.category ?? "other";
    r.categories.set(c, (r.categories.get(c) ?? 0) + 1);
    if (task.reported_at && (!r.last || task.reported_at > r.last)) r.last = task.reported_at;
  }
  const byId = new Map(schedules.map((s) => [s.id, s]));
  for (const o of occ) {
    if (o.status === "excused") continue;
    const r = row(byId.get(o.schedule.id)?.location?.block || NO_BLOCK);
    r.expected++;
    if (["fulfilled", "late", "missing_photo", "blocked"].includes(o.status)) r.reported++;
    if (o.status === "missed") r.missed++;
  }
  const list = [...rows.values()].sort((a, b) => (a.block === NO_BLOCK ? 1 : b.block === NO_BLOCK ? -1 : a.block.localeCompare(b.block)));
  if (list.length === 0) return <Empty title={t("No tasks reported in these days")} icon="task" />;
  return (
    <div class="table-wrap" tabIndex={0}>
      <table class="table table-compact block-grid" data-testid="block-grid">
        <caption class="visually-hidden">{t("Work by block")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("Block")}</th>
            <th scope="col">{t("Reported")}</th>
            <th scope="col">{t("Work")}</th>
            <th scope="col">{t("No photo")}</th>
            <th scope="col">{t("Scheduled")}</th>
            <th scope="col">{t("Last report")}</th>
          </tr>
        </thead>
        <tbody>
          {list.map((r) => (
            <tr key={r.block} data-grid-block={r.block} class={r.missed > 0 ? "row-breached" : r.done > 0 ? "row-ok" : undefined}>
              <th scope="row">{r.block === NO_BLOCK ? t("No block") : t("Block {b}", { b: r.block })}</th>
              <td class="num" data-key="done">
                {r.done > 0 ? <span class="tag tag-ok">✓ {tn(r.done, "{n} done", "{n} done")}</span> : <span class="muted">{t("nothing done")}</span>}
                {r.other > 0 ? <span class="muted"> {tn(r.other, "+{n} other", "+{n} other")}</span> : null}
              </td>
              <td>
                {[...r.categories.entries()].map(([c, n]) => (
                  <span key={c} class="tag tag-plain">
                    {humanize(c)} {formatNumber(n)}
                  </span>
                ))}
              </td>
              <td class="num" data-key="no-photo">
                {r.noPhoto > 0 ? <span class="tag tag-warn">{formatNumber(r.noPhoto)}</span> : <span class="muted">—</span>}
              </td>
              <td class="num" data-key="scheduled">
                {r.expected > 0 ? t("{a} of {b}", { a: r.reported, b: r.expected }) : <span class="muted">—</span>}
                {r.missed > 0 ? <span class="tag tag-alert">{tn(r.missed, "{n} missed", "{n} missed")}</span> : null}
              </td>
              <td class="nowrap">{r.last ? formatDateTime(r.last) : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
