// Reports: until /reports lands, the two things managers ask for most: repeated problems and SLA breaches.
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, api, buildQuery } from "../api";
import { can, useUser } from "../auth";
import { PriorityBadge, StatusBadge } from "../components/Badges";
import { PageHeader } from "../components/Layout";
import { Empty, LoadMore, Loading, Problem } from "../components/States";
import { formatDateTime, formatLocation, humanize, isoAttr, personName, todayKey } from "../format";
import { useDocumentTitle, useMedia, usePaged, useResource } from "../hooks";
import { Link, setQuery, useLocation } from "../router";
import type { Issue, Page, Repeats, Site } from "../types";
import { PeriodReport } from "./PeriodReport";
import { ReportFiles } from "./ReportFiles";
import { DateInput } from "../components/DateInput";
import { t } from "../i18n";

const enc = (v: string | number) => encodeURIComponent(String(v));

/** Titles of a few tickets by id (the repeats answer only carries ids). */
function useIssueTitles(ids: Array<string | number>): Map<string, Issue> {
  const key = ids.map(String).sort().join(",");
  const [map, setMap] = useState<Map<string, Issue>>(new Map());
  useEffect(() => {
    let live = true;
    const want = Array.from(new Set(ids.map(String))).slice(0, 60);
    Promise.all(want.map((id) => api<Issue>(`/issues/${enc(id)}`).then((i) => [id, i] as const).catch(() => null))).then((pairs) => {
      if (!live) return;
      const m = new Map<string, Issue>();
      for (const p of pairs) if (p) m.set(p[0], p[1]);
      setMap(m);
    });
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return map;
}

export function Reports() {
  useDocumentTitle(t("Reports"));
  const { search } = useLocation();
  const days = search.get("days") ?? "30";
  return (
    <div class="page page-reports">
      <PageHeader title={t("Reports")} sub={t("Problems that keep coming back, and tickets that missed their SLA.")} />
      <PeriodReport />
      <ReportFiles />
      <RepeatsPanel days={days} />
      <BreachesPanel />
      <AuditExport />
    </div>
  );
}

function RepeatsPanel({ days }: { days: string }) {
  const rep = useResource<Repeats>("/repeats", { days });
  const sites = useResource<Page<Site>>("/sites", { limit: 500 });
  const groups = rep.data?.items ?? [];
  const titles = useIssueTitles(groups.flatMap((g) => g.tickets));
  const siteName = (id: string | number | null | undefined) =>
    id === null || id === undefined ? null : (sites.data?.items.find((s) => String(s.id) === String(id))?.name ?? t("Site {id}", { id }));
  return (
    <section class="panel" aria-labelledby="h-repeats">
      <div class="panel-head">
        <h2 id="h-repeats">{t("Repeated problems")}</h2>
        <label class="field field-inline">
          <span>{t("Window")}</span>
          <select value={days} onChange={(e) => setQuery({ days: e.currentTarget.value === "30" ? null : e.currentTarget.value })}>
            <option value="7">{t("Last 7 days")}</option>
            <option value="30">{t("Last 30 days")}</option>
            <option value="90">{t("Last 90 days")}</option>
            <option value="365">{t("Last year")}</option>
          </select>
        </label>
      </div>
      {rep.error && !rep.data ? (
        <Problem error={rep.error} what={t("Repeated problems")} onRetry={rep.reload} />
      ) : !rep.data ? (
        <Loading />
      ) : groups.length === 0 ? (
        <Empty title={t("No repeated problems")} icon="task">
          {t("No category came back at the same place within")}{" "}{days}{" "}{t("days.")}
        </Empty>
      ) : (
        <ul class="card-list" data-testid="repeats">
          {groups.map((g, n) => (
            <li key={n} class="card repeat-card">
              <div class="card-row">
                <span class="card-title">
                  {humanize(g.category) || t("Problem")}
                  {formatLocation(g.location) ? ` — ${formatLocation(g.location)}` : ""}
                </span>
                <span class="badge badge-breach">{g.tickets.length}×</span>
              </div>
              <p class="card-meta">
                {[siteName(g.site_id), g.first_at ? `first ${formatDateTime(g.first_at)}` : "", g.last_at ? `latest ${formatDateTime(g.last_at)}` : ""]
                  .filter(Boolean)
                  .join(" · ")}
                {g.said_repeat ? t(" · {said_repeat} report{v1} said “again”", { said_repeat: g.said_repeat, v1: g.said_repeat === 1 ? "" : "s" }) : ""}
              </p>
              <ul class="repeat-tickets">
                {g.tickets.map((id) => {
                  const i = titles.get(String(id));
                  return (
                    <li key={String(id)}>
                      <Link href={`/issues/${enc(id)}`}>
                        #{String(id)} {i?.title ?? ""}
                      </Link>{" "}
                      {i ? <StatusBadge status={i.status} /> : null}
                      {i?.opened_at ? (
                        <time class="muted" dateTime={isoAttr(i.opened_at)}>
                          {" "}
                          {formatDateTime(i.opened_at)}
                        </time>
                      ) : null}
                    </li>
                  );
                })}
              </ul>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function BreachesPanel() {
  const [openOnly, setOpenOnly] = useState(false);
  const query = useMemo(() => ({ breached: "true", open: openOnly ? "true" : undefined }), [openOnly]);
  const list = usePaged<Issue>("/issues", query, 100);
  const phone = useMedia("(max-width: 760px)");
  // The server filters; filter again so an older server that ignores `breached` still shows the right thing.
  const items = list.items.filter((i) => i.sla?.breached);
  const respond = items.filter((i) => i.sla?.respond_breached).length;
  const resolve = items.filter((i) => i.sla?.resolve_breached).length;
  return (
    <section class="panel" aria-labelledby="h-breaches">
      <div class="panel-head">
        <h2 id="h-breaches">{t("SLA breaches")}</h2>
        <label class="field field-check">
          <input type="checkbox" checked={openOnly} onChange={(e) => setOpenOnly(e.currentTarget.checked)} />
          {t("Open tickets only")}
        </label>
      </div>
      {list.error && list.items.length === 0 ? (
        <Problem error={list.error} what={t("SLA breaches")} onRetry={list.reload} />
      ) : !list.loaded ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty title={t("No SLA breaches")} icon="task">
          {t("Every ticket got its response and resolution in time.")}
        </Empty>
      ) : (
        <>
          <p class="muted" data-testid="breach-summary">
            {items.length}
            {list.hasMore ? "+" : ""}{" "}{t("ticket")}{items.length === 1 ? "" : "s"}: {respond}{" "}{t("answered late,")}{" "}{resolve}{" "}{t("resolved late.")}
          </p>
          {phone ? (
            <ul class="card-list">
              {items.map((i) => (
                <li key={String(i.id)} class="card card-breached">
                  <Link href={`/issues/${enc(i.id)}`} class="card-title">
                    #{String(i.id)} {i.title}
                  </Link>
                  <div class="card-tags">
                    <StatusBadge status={i.status} />
                    <PriorityBadge priority={i.priority} />
                    {i.sla?.respond_breached ? <span class="badge badge-breach">{t("Response late")}</span> : null}
                    {i.sla?.resolve_breached ? <span class="badge badge-breach">{t("Resolution late")}</span> : null}
                  </div>
                  <p class="card-meta">
                    {[i.site?.name, i.owner ? `owner ${personName(i.owner)}` : t("no owner"), `opened ${formatDateTime(i.opened_at)}`].filter(Boolean).join(" · ")}
                  </p>
                </li>
              ))}
            </ul>
          ) : (
            <div class="table-wrap" tabIndex={0}>
              <table class="table">
                <caption class="visually-hidden">{t("Tickets that missed their SLA")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("Ticket")}</th>
                    <th scope="col">{t("Status")}</th>
                    <th scope="col">{t("Priority")}</th>
                    <th scope="col">{t("Respond by")}</th>
                    <th scope="col">{t("Resolve by")}</th>
                    <th scope="col">{t("Owner")}</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((i) => (
                    <tr key={String(i.id)}>
                      <td>
                        <Link href={`/issues/${enc(i.id)}`} class="row-title">
                          #{String(i.id)} {i.title}
                        </Link>
                        <div class="row-sub">{[i.site?.name, humanize(i.category)].filter(Boolean).join(" · ")}</div>
                      </td>
                      <td>
                        <StatusBadge status={i.status} />
                      </td>
                      <td>
                        <PriorityBadge priority={i.priority} />
                      </td>
                      <td class={i.sla?.respond_breached ? "sla-breached" : undefined}>
                        {formatDateTime(i.sla?.respond_by)}
                        {i.sla?.respond_breached ? " · late" : ""}
                      </td>
                      <td class={i.sla?.resolve_breached ? "sla-breached" : undefined}>
                        {formatDateTime(i.sla?.resolve_by)}
                        {i.sla?.resolve_breached ? " · late" : ""}
                      </td>
                      <td>{i.owner ? personName(i.owner) : <span class="muted">{t("nobody")}</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <LoadMore hasMore={list.hasMore} loading={list.loading} onClick={list.loadMore} count={items.length} />
        </>
      )}
    </section>
  );
}

interface SigningKey {
  public_key: string;
  fingerprint: string;
}

/** The file name the server gave (Content-Disposition), or a sensible one. */
function attachmentName(res: Response, fallback: string): string {
  const m = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") ?? "");
  return m ? m[1] : fallback;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Audit ZIPs for inspectors: a period (and optionally one site), downloaded as one signed file. */
function AuditExport() {
  const user = useUser();
  const allowed = can(user, "audit");
  const sites = useResource<Page<Site>>(allowed ? "/sites" : null, { limit: 500 });
  const key = useResource<SigningKey>(allowed ? "/exports/audit/key" : null);
  const today = todayKey();
  const [from, setFrom] = useState(`${today.slice(0, 8)}01`);
  const [to, setTo] = useState(today);
  const [site, setSite] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<{ name: string; bytes: number } | null>(null);
  if (!allowed) return null;

  const bad = from > to ? t("The first day is after the last day.") : null;
  const download = async () => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const q = buildQuery({ from, to, site: site || null });
      let res: Response;
      try {
        res = await fetch(`/api/v1/exports/audit${q}`, { credentials: "same-origin" });
      } catch {
        throw new ApiError(0, "network", "Cannot reach tapak. Check the connection and try again.");
      }
      if (!res.ok) {
        const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
        throw new ApiError(res.status, "export_failed", body?.error?.message ?? t("The export failed ({status}).", { status: res.status }));
      }
      const blob = await res.blob();
      const name = attachmentName(res, `tapak-audit-${from}-to-${to}.zip`);
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = name;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      setDone({ name, bytes: blob.size });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel" aria-labelledby="h-audit" data-testid="audit-export">
      <div class="panel-head">
        <h2 id="h-audit">{t("Audit export for inspectors")}</h2>
      </div>
      <p class="muted">
        {t("One ZIP with the period's messages (each with the WhatsApp delivery it came from), tickets, task log, photos and the tamper-evident change log, signed by this appliance. Inspectors check it offline with")}{" "}<code>{t("tapak verify FILE.zip")}</code>.
      </p>
      <div class="filters" role="group" aria-label={t("Audit export")}>
        <DateInput label={t("First day")} name="audit-from" inline={false} value={from} onChange={(v) => v && setFrom(v)} />
        <DateInput label={t("Last day")} name="audit-to" inline={false} value={to} onChange={(v) => v && setTo(v)} />
        <label class="field">
          <span>{t("Site")}</span>
          <select value={site} onChange={(e) => setSite(e.currentTarget.value)}>
            <option value="">{t("All sites")}</option>
            {(sites.data?.items ?? []).map((s) => (
              <option key={String(s.id)} value={String(s.id)}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="btn btn-primary" disabled={busy || !!bad || !from || !to} onClick={download}>
          {busy ? t("Preparing the ZIP…") : t("Download audit ZIP")}
        </button>
      </div>
      {bad && <p class="form-error">{bad}</p>}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {done && (
        <p class="notice notice-ok" role="status">
          {t("Downloaded")}{" "}{done.name} ({formatBytes(done.bytes)}).
        </p>
      )}
      {key.data && (
        <p class="muted" data-testid="audit-key">
          {t("Signing key fingerprint:")}{" "}<code>{key.data.fingerprint}</code>{t(". Give it to inspectors so they can check that a ZIP came from this appliance.")}
        </p>
      )}
    </section>
  );
}
