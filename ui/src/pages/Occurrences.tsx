// Occurrences of schedules: what was expected when, and whether it was reported (with reminders sent and excuses).
import { useMemo, useState } from "preact/hooks";
import { api } from "../api";
import { can, useUser } from "../auth";
import { ActionError, Dialog, DialogActions, useAction } from "../components/Dialog";
import { DateInput } from "../components/DateInput";
import { PageHeader } from "../components/Layout";
import { Empty, LoadMore, Loading, Problem } from "../components/States";
import { formatDateTime, formatTime, isoAttr } from "../format";
import { useDocumentTitle, usePaged } from "../hooks";
import { t, tn } from "../i18n";
import { Link, setQuery, useLocation } from "../router";
import type { Occurrence } from "../types";

export const OCC_STATUSES = ["pending", "fulfilled", "late", "missing_photo", "blocked", "missed", "excused"];

const OCC_LABEL: Record<string, string> = {
  pending: "Pending",
  fulfilled: "Done",
  late: "Late",
  missing_photo: "No photo",
  blocked: "Blocked",
  missed: "Missed",
  excused: "Excused",
};

export function occLabel(s: string): string {
  return t(OCC_LABEL[s] ?? s);
}

const TONE: Record<string, string> = {
  fulfilled: "ok",
  late: "warn",
  missing_photo: "warn",
  blocked: "warn",
  missed: "alert",
  pending: "plain",
  excused: "plain",
};

export function OccBadge({ status }: { status: string }) {
  return <span class={`badge occ-${status} tone-${TONE[status] ?? "plain"}`}>{occLabel(status)}</span>;
}

/** Whether a manager may still excuse it (not done, not already excused). */
function excusable(o: Occurrence): boolean {
  return o.status !== "fulfilled" && o.status !== "excused";
}

export function ExcuseDialog({ occ, onClose, onDone }: { occ: Occurrence; onClose: () => void; onDone: (o: Occurrence) => void }) {
  const [reason, setReason] = useState("");
  const act = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const r = await act.run(() => api<Occurrence>(`/occurrences/${occ.id}/excuse`, { method: "POST", body: { reason: reason.trim() } }));
    if (r) onDone(r);
  };
  return (
    <Dialog title={t("Excuse “{name}”", { name: occ.schedule.name ?? String(occ.schedule.id) })} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <p class="muted">{t("Due {time}. No more reminders are sent for it, and reports count it as excused.", { time: formatDateTime(occ.due_at) })}</p>
        <label class="field">
          <span>{t("Reason")}</span>
          <textarea name="reason" rows={3} required maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </label>
        <ActionError error={act.error} />
        <DialogActions busy={act.busy} submit={t("Excuse")} onCancel={onClose} disabled={reason.trim() === ""} />
      </form>
    </Dialog>
  );
}

/** One occurrence per row: schedule, due time, status with its reason, reminders sent; a manager may excuse it. */
export function OccurrenceRows({
  items,
  onChange,
  showSchedule = true,
}: {
  items: Occurrence[];
  onChange?: (o: Occurrence) => void;
  showSchedule?: boolean;
}) {
  const user = useUser();
  const [excusing, setExcusing] = useState<Occurrence | null>(null);
  return (
    <>
      <ul class="occ-list">
        {items.map((o) => (
          <li key={o.id} class={`occ-row occ-row-${o.status}`} data-row="occurrence" data-status={o.status} data-id={o.id}>
            <div class="occ-main">
              {showSchedule ? (
                <Link href={`/schedules/${o.schedule.id}`} class="occ-name">
                  {o.schedule.name ?? `#${o.schedule.id}`}
                </Link>
              ) : null}
              <span class="occ-when">
                {t("due")} <time dateTime={isoAttr(o.due_at)}>{formatDateTime(o.due_at)}</time>
                {o.site ? ` · ${o.site.name ?? ""}` : ""}
              </span>
            </div>
            <div class="occ-state">
              <OccBadge status={o.status} />
              {o.reported_at ? (
                <span class="muted">
                  {t("reported {time}", { time: formatTime(o.reported_at) })}
                </span>
              ) : null}
              {o.status === "excused" && o.excused_reason ? <span class="muted">{t("excused: {reason}", { reason: o.excused_reason })}</span> : null}
              {o.missing_checkpoints && o.missing_checkpoints.length > 0 ? (
                <span class="muted">{t("missing checkpoints: {list}", { list: o.missing_checkpoints.join(", ") })}</span>
              ) : null}
              {o.reminders.length > 0 ? (
                <details class="occ-reminders">
                  <summary>{tn(o.reminders.length, "{n} reminder sent", "{n} reminders sent")}</summary>
                  <ul>
                    {o.reminders.map((r) => (
                      <li key={r.id}>
                        <time dateTime={isoAttr(r.at)}>{formatDateTime(r.at)}</time> · {t(r.purpose === "escalation" ? "escalation" : "reminder")} →{" "}
                        {r.to}
                        {r.state ? ` (${t(r.state)})` : ""}
                      </li>
                    ))}
                  </ul>
                </details>
              ) : null}
            </div>
            {onChange && can(user, "manage") && excusable(o) ? (
              <button type="button" class="btn btn-small" data-action="excuse" onClick={() => setExcusing(o)}>
                {t("Excuse")}
              </button>
            ) : null}
          </li>
        ))}
      </ul>
      {excusing ? (
        <ExcuseDialog
          occ={excusing}
          onClose={() => setExcusing(null)}
          onDone={(o) => {
            setExcusing(null);
            onChange?.(o);
          }}
        />
      ) : null}
    </>
  );
}

/** `/occurrences?date=&status=&schedule=&site=`: the list a dashboard tile opens. */
export function Occurrences() {
  useDocumentTitle(t("Expected work"));
  const { search } = useLocation();
  const date = search.get("date") ?? "";
  const status = search.get("status") ?? "";
  const schedule = search.get("schedule") ?? "";
  const site = search.get("site") ?? "";
  const from = search.get("from") ?? "";
  const to = search.get("to") ?? "";
  const query = useMemo(() => ({ date, status, schedule, site, from, to }), [date, status, schedule, site, from, to]);
  const list = usePaged<Occurrence>("/occurrences", query);
  return (
    <div class="page page-occurrences">
      <PageHeader title={t("Expected work")} sub={t("Each time a schedule expects a report, and what came in.")} />
      <div class="filters" role="group" aria-label={t("Filters")}>
        <DateInput label={t("Day")} value={date} onChange={(v) => setQuery({ date: v })} />
        <label class="field field-inline">
          <span>{t("Status")}</span>
          <select value={status} onChange={(e) => setQuery({ status: e.currentTarget.value })}>
            <option value="">{t("Any status")}</option>
            {OCC_STATUSES.map((s) => (
              <option key={s} value={s}>
                {occLabel(s)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {list.error && list.items.length === 0 ? (
        <Problem error={list.error} what={t("Expected work")} onRetry={list.reload} />
      ) : !list.loaded ? (
        <Loading />
      ) : list.items.length === 0 ? (
        <Empty title={t("Nothing expected matches")} icon="calendar" />
      ) : (
        <>
          <OccurrenceRows items={list.items} onChange={(o) => list.patch((xs) => xs.map((x) => (x.id === o.id ? o : x)))} />
          <LoadMore hasMore={list.hasMore} loading={list.loading} onClick={list.loadMore} count={list.items.length} />
        </>
      )}
    </div>
  );
}
