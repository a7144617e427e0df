import { useMemo } from "preact/hooks";
import { StatusBadge } from "../components/Badges";
import { EvidenceStrip } from "../components/EvidenceView";
import { PageHeader } from "../components/Layout";
import { Empty, LoadMore, Loading, Problem } from "../components/States";
import { CATEGORIES, formatDateTime, formatLocation, humanize, isoAttr, personName, TASK_STATUSES } from "../format";
import { useDocumentTitle, usePaged } from "../hooks";
import { setQuery, useLocation } from "../router";
import type { Task } from "../types";
import { Select } from "./Issues";
import { t as tr } from "../i18n";

export function Tasks() {
  useDocumentTitle(tr("Tasks"));
  const { search } = useLocation();
  const status = search.get("status") ?? "";
  const category = search.get("category") ?? "";
  const from = search.get("from") ?? "";
  const to = search.get("to") ?? "";
  const query = useMemo(() => ({ status, category, from, to }), [status, category, from, to]);
  const list = usePaged<Task>("/tasks", query);
  const anyFilter = !!(status || category || from || to);

  return (
    <div class="page page-tasks">
      <PageHeader title={tr("Tasks")} sub={tr("Routine work reported done, in progress or blocked.")} />
      <div class="filters" role="group" aria-label={tr("Filters")}>
        <Select label={tr("Status")} value={status} name="status" options={TASK_STATUSES} all={tr("Any status")} />
        <Select label={tr("Category")} value={category} name="category" options={CATEGORIES} all={tr("Any category")} />
        <label class="field field-inline">
          <span>{tr("From")}</span>
          <input type="date" value={from} onChange={(e) => setQuery({ from: e.currentTarget.value })} />
        </label>
        <label class="field field-inline">
          <span>{tr("To")}</span>
          <input type="date" value={to} onChange={(e) => setQuery({ to: e.currentTarget.value })} />
        </label>
        {anyFilter ? (
          <button type="button" class="btn btn-quiet" onClick={() => setQuery({ status: null, category: null, from: null, to: null })}>
            {tr("Clear all")}
          </button>
        ) : null}
      </div>

      {list.error && list.items.length === 0 ? (
        <Problem error={list.error} what={tr("Tasks")} onRetry={list.reload} />
      ) : !list.loaded ? (
        <Loading label={tr("Loading tasks…")} />
      ) : list.items.length === 0 ? (
        <Empty title={anyFilter ? tr("No tasks match these filters") : tr("No tasks yet")} icon="task">
          {anyFilter ? tr("Remove a filter to see more.") : tr("Task entries appear when staff report work like “Done cleaning Block A”.")}
        </Empty>
      ) : (
        <>
          <ul class="card-list">
            {list.items.map((t) => (
              <li key={String(t.id)} class={`card task-card task-${t.status}`} data-row="task">
                <div class="card-row">
                  <span class="card-title">
                    {t.title || [humanize(t.category) || tr("Task"), formatLocation(t.location)].filter(Boolean).join(" — ")}
                  </span>
                  <StatusBadge status={t.status} />
                </div>
                <p class="card-meta">
                  {[
                    t.reported_by ? personName(t.reported_by) : "",
                    t.site?.name ?? "",
                    t.chat?.name ?? "",
                    t.schedule ? "scheduled" : "",
                  ]
                    .filter(Boolean)
                    .join(" · ")}
                  {t.reported_at ? (
                    <>
                      {" · "}
                      <time dateTime={isoAttr(t.reported_at)}>{formatDateTime(t.reported_at)}</time>
                    </>
                  ) : null}
                </p>
                {t.text ? <p class="msg-text">{t.text}</p> : null}
                <EvidenceStrip items={t.evidence} context={t.reported_by ? personName(t.reported_by) : undefined} />
              </li>
            ))}
          </ul>
          {list.error ? <Problem error={list.error} what={tr("More tasks")} onRetry={list.loadMore} /> : null}
          <LoadMore hasMore={list.hasMore} loading={list.loading} onClick={list.loadMore} count={list.items.length} />
        </>
      )}
    </div>
  );
}
