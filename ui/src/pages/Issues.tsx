import { useEffect, useMemo, useState } from "preact/hooks";
import { api, buildQuery, type ApiError } from "../api";
import { PriorityBadge, StatusBadge } from "../components/Badges";
import { Icon } from "../components/Icon";
import { PageHeader } from "../components/Layout";
import { Empty, LoadMore, Loading, Problem } from "../components/States";
import { CATEGORIES, formatDateTime, formatLocation, humanize, isoAttr, ISSUE_STATUSES, personName, PRIORITIES, relative } from "../format";
import { toApiError, useDocumentTitle, useMedia, usePaged, useResource, type PagedList } from "../hooks";
import { DateInput } from "../components/DateInput";
import { SiteSelect } from "../components/SiteSelect";
import { t, tn } from "../i18n";
import { Link, setQuery, useLocation } from "../router";
import type { Issue, IssueTotals, Page, PersonFull, Vendor } from "../types";

const CLOSED = new Set(["resolved", "closed"]);

export function SlaCell({ issue }: { issue: Issue }) {
  const sla = issue.sla;
  if (!sla) return <span class="muted">—</span>;
  const closed = CLOSED.has(issue.status);
  // "Overdue now" (open, past the deadline) and "was late once" (done after it) are different things.
  if (closed) {
    return sla.breached ? (
      <span class="sla sla-late" data-sla="late-once">
        <Icon name="clock" size={14} /> {t("Was late")}
      </span>
    ) : (
      <span class="sla sla-met">{t("Within SLA")}</span>
    );
  }
  const due = sla.resolve_by ?? sla.respond_by;
  if (sla.resolve_breached && sla.resolve_by) {
    return (
      <span class="sla sla-breached" data-sla="overdue" title={t("Resolve by {time}", { time: formatDateTime(sla.resolve_by) })}>
        <Icon name="clock" size={14} /> {t("Overdue")} <time dateTime={isoAttr(sla.resolve_by)}>{relative(sla.resolve_by)}</time>
      </span>
    );
  }
  if (sla.respond_breached) {
    return (
      <span class="sla sla-late" data-sla="response-late" title={t("Respond by {time}", { time: formatDateTime(sla.respond_by) })}>
        <Icon name="clock" size={14} /> {t("Response late")}
      </span>
    );
  }
  if (!due) return <span class="muted">—</span>;
  const left = new Date(due).getTime() - Date.now();
  const soon = left < 2 * 3600_000;
  return (
    <span class={`sla${soon ? " sla-soon" : ""}`} title={t("Resolve by {time}", { time: formatDateTime(sla.resolve_by) })}>
      <Icon name="clock" size={14} /> {t("Due")} <time dateTime={isoAttr(due)}>{relative(due)}</time>
    </span>
  );
}

function issueHref(i: Issue): string {
  return `/issues/${encodeURIComponent(String(i.id))}`;
}

function issueTitle(i: Issue): string {
  return i.title || [humanize(i.category), formatLocation(i.location)].filter(Boolean).join(" — ") || t("Issue {id}", { id: i.id });
}

/** Compact cards: phones and the dashboard. */
export function IssueCards({ items }: { items: Issue[] }) {
  return (
    <ul class="card-list">
      {items.map((i) => (
        <li key={String(i.id)} class={`card issue-card${i.sla?.breached ? " card-breached" : ""}`} data-row="issue">
          <Link href={issueHref(i)} class="card-title">
            {issueTitle(i)}
          </Link>
          <div class="card-tags">
            <StatusBadge status={i.status} />
            <PriorityBadge priority={i.priority} />
            {i.category ? <span class="tag tag-plain">{humanize(i.category)}</span> : null}
            <SlaCell issue={i} />
          </div>
          <p class="card-meta">
            {[formatLocation(i.location), i.site?.name, i.opened_at ? `opened ${formatDateTime(i.opened_at)}` : ""]
              .filter(Boolean)
              .join(" · ")}
          </p>
        </li>
      ))}
    </ul>
  );
}

function IssueTable({ items }: { items: Issue[] }) {
  return (
    <div class="table-wrap" tabIndex={0}>
      <table class="table">
        <caption class="visually-hidden">{t("Issue tickets")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("Issue")}</th>
            <th scope="col">{t("Status")}</th>
            <th scope="col">{t("Priority")}</th>
            <th scope="col">{t("Category")}</th>
            <th scope="col">{t("Location")}</th>
            <th scope="col">{t("Site")}</th>
            <th scope="col">{t("Opened")}</th>
            <th scope="col">{t("SLA")}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((i) => (
            <tr key={String(i.id)} class={i.sla?.breached ? "row-breached" : undefined} data-row="issue">
              <td>
                <Link href={issueHref(i)} class="row-title">
                  {issueTitle(i)}
                </Link>
                {i.repeat_of ? <span class="tag tag-warn">{t("Repeat")}</span> : null}
                {i.reported_by ? <div class="row-sub">{t("by")}{" "}{personName(i.reported_by)}</div> : null}
              </td>
              <td>
                <StatusBadge status={i.status} />
              </td>
              <td>
                <PriorityBadge priority={i.priority} />
              </td>
              <td>{humanize(i.category) || <span class="muted">—</span>}</td>
              <td>{formatLocation(i.location) || <span class="muted">—</span>}</td>
              <td>{i.site?.name ?? <span class="muted">—</span>}</td>
              <td>
                <time dateTime={isoAttr(i.opened_at)}>{formatDateTime(i.opened_at)}</time>
              </td>
              <td>
                <SlaCell issue={i} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The query the list and its download share (only the filters that are set). */
const ISSUE_FILTERS = ["status", "priority", "category", "site", "breached", "overdue", "open", "from", "to", "owner", "vendor", "location", "q", "sort"] as const;

export function Issues() {
  useDocumentTitle(t("Issues"));
  const { search } = useLocation();
  const get = (k: string) => search.get(k) ?? "";
  const [status, priority, category, site, breached, overdue, open, from, to] = ["status", "priority", "category", "site", "breached", "overdue", "open", "from", "to"].map(get);
  const [owner, vendor, location, q, sort] = ["owner", "vendor", "location", "q", "sort"].map(get);
  const query = useMemo(
    () => ({ status, priority, category, site, breached, overdue, open, from, to, owner, vendor, location, q, sort }),
    [status, priority, category, site, breached, overdue, open, from, to, owner, vendor, location, q, sort],
  );
  // `ids` (from a report's number): exactly those tickets, each fetched by id.
  const idList = (search.get("ids") ?? "").split(",").filter((x) => /^\d+$/.test(x)).slice(0, 200);
  const byIds = useIssuesById(search.has("ids") ? idList : null);
  const paged = usePaged<Issue>(search.has("ids") ? null : "/issues", query);
  const list = byIds ?? paged;
  const phone = useMedia("(max-width: 760px)");
  const people = useResource<Page<PersonFull>>("/people", { limit: 500 });
  const vendors = useResource<Page<Vendor> | Vendor[]>("/vendors");
  const vendorList = Array.isArray(vendors.data) ? vendors.data : (vendors.data?.items ?? []);

  const items = list.items;
  const totals = (paged.head?.totals ?? null) as IssueTotals | null;
  const anyFilter = ISSUE_FILTERS.some((k) => k !== "sort" && get(k) !== "") || search.has("ids");
  // One "deadline" choice over the open / overdue / breached parameters: overdue now and late once stay apart.
  const deadline = overdue === "true" ? "overdue" : breached === "true" && overdue === "false" ? "late_once" : open === "true" ? "open" : breached === "true" ? "breached" : "";
  const setDeadline = (v: string) =>
    setQuery({
      open: v === "open" ? "true" : null,
      overdue: v === "overdue" ? "true" : v === "late_once" ? "false" : null,
      breached: v === "late_once" || v === "breached" ? "true" : null,
    });
  const download = (format: string) => `/api/v1/issues/export${buildQuery({ format, ...query })}`;

  return (
    <div class="page page-issues">
      <PageHeader title={t("Issues")} sub={t("Problems reported in the groups, with their deadlines.")} />
      <div class="filters" role="group" aria-label={t("Filters")}>
        <TextFilter label={t("Search")} name="q" value={q} placeholder={t("words or #ticket")} />
        <Select label={t("Status")} value={status} name="status" options={ISSUE_STATUSES} all={t("Any status")} />
        <Select label={t("Priority")} value={priority} name="priority" options={PRIORITIES} all={t("Any priority")} />
        <Select label={t("Category")} value={category} name="category" options={CATEGORIES} all={t("Any category")} />
        <SiteSelect name="site" value={site} all={t("All sites")} hideWhenOne onChange={(v) => setQuery({ site: v })} />
        <TextFilter label={t("Location")} name="location" value={location} placeholder={t("e.g. Block C")} />
        <label class="field field-inline">
          <span>{t("Owner")}</span>
          <select name="owner" value={owner} onChange={(e) => setQuery({ owner: e.currentTarget.value })}>
            <option value="">{t("Anyone")}</option>
            {(people.data?.items ?? []).map((p) => (
              <option key={String(p.id)} value={String(p.id)}>
                {personName(p)}
                {p.vendor?.name ? ` (${p.vendor.name})` : ""}
              </option>
            ))}
          </select>
        </label>
        {vendorList.length > 0 ? (
          <label class="field field-inline">
            <span>{t("Vendor")}</span>
            <select name="vendor" value={vendor} onChange={(e) => setQuery({ vendor: e.currentTarget.value })}>
              <option value="">{t("Any vendor")}</option>
              {vendorList.map((v) => (
                <option key={String(v.id)} value={String(v.id)}>
                  {v.name}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <label class="field field-inline">
          <span>{t("Deadline")}</span>
          <select name="deadline" value={deadline} onChange={(e) => setDeadline(e.currentTarget.value)}>
            <option value="">{t("Any")}</option>
            <option value="open">{t("Open (not resolved)")}</option>
            <option value="overdue">{t("Overdue now")}</option>
            <option value="late_once">{t("Was late once")}</option>
            <option value="breached">{t("Late at any time")}</option>
          </select>
        </label>
        <DateInput label={t("From")} name="from" value={from} onChange={(v) => setQuery({ from: v })} />
        <DateInput label={t("To")} name="to" value={to} onChange={(v) => setQuery({ to: v })} />
        <label class="field field-inline">
          <span>{t("Sort")}</span>
          <select name="sort" value={sort} onChange={(e) => setQuery({ sort: e.currentTarget.value })}>
            <option value="">{t("Newest first")}</option>
            <option value="oldest">{t("Oldest first")}</option>
            <option value="priority">{t("Most urgent first")}</option>
            <option value="deadline">{t("Deadline soonest")}</option>
          </select>
        </label>
        {anyFilter ? (
          <button
            type="button"
            class="btn btn-quiet"
            onClick={() => setQuery({ ...Object.fromEntries(ISSUE_FILTERS.filter((k) => k !== "sort").map((k) => [k, null])), ids: null })}
          >
            {t("Clear all")}
          </button>
        ) : null}
      </div>

      {totals && !search.has("ids") ? (
        <div class="list-summary">
          <p class="list-count" data-testid="issue-totals" data-all={totals.all} data-open={totals.open} data-overdue={totals.overdue_now} data-late-once={totals.late_once}>
            {tn(totals.all, "{n} ticket", "{n} tickets")} · {t("{n} open", { n: totals.open })} · {t("{n} overdue now", { n: totals.overdue_now })} ·{" "}
            {t("{n} were late once", { n: totals.late_once })} · {t("{n} resolved or closed", { n: totals.done })}
          </p>
          {totals.all > 0 ? (
            <span class="downloads" data-testid="issue-downloads">
              <a class="btn btn-small" href={download("xlsx")} data-format="xlsx" download>
                <Icon name="doc" size={14} /> {t("Excel")}
              </a>
              <a class="btn btn-small" href={download("csv")} data-format="csv" download>
                <Icon name="doc" size={14} /> CSV
              </a>
            </span>
          ) : null}
        </div>
      ) : null}

      {list.error && list.items.length === 0 ? (
        <Problem error={list.error} what={t("Issues")} onRetry={list.reload} />
      ) : !list.loaded ? (
        <Loading label={t("Loading issues…")} />
      ) : items.length === 0 && !list.hasMore ? (
        <Empty title={anyFilter ? t("No issues match these filters") : t("No issues yet")} icon="task">
          {anyFilter ? t("Remove a filter to see more.") : t("Issue tickets open automatically when someone reports a problem in a group.")}
        </Empty>
      ) : (
        <>
          {phone ? <IssueCards items={items} /> : <IssueTable items={items} />}
          {list.error ? <Problem error={list.error} what={t("More issues")} onRetry={list.loadMore} /> : null}
          <LoadMore hasMore={list.hasMore} loading={list.loading} onClick={list.loadMore} count={items.length} />
        </>
      )}
    </div>
  );
}

/** A text filter that applies when the user presses Enter or leaves the field. */
function TextFilter({ label, name, value, placeholder }: { label: string; name: string; value: string; placeholder?: string }) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const commit = (v: string) => {
    if (v.trim() !== value) setQuery({ [name]: v.trim() || null });
  };
  return (
    <label class="field field-inline">
      <span>{label}</span>
      <input
        type="search"
        name={name}
        value={text}
        size={12}
        placeholder={placeholder}
        onInput={(e) => setText(e.currentTarget.value)}
        onChange={(e) => commit(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter") commit(e.currentTarget.value);
        }}
      />
    </label>
  );
}

/** The tickets of a list of ids, as a finished paged list (null when not asked). */
function useIssuesById(ids: string[] | null): PagedList<Issue> | null {
  const key = ids ? ids.join(",") : null;
  const [state, setState] = useState<{ items: Issue[]; loaded: boolean; error: ApiError | null }>({ items: [], loaded: false, error: null });
  useEffect(() => {
    if (!ids) return;
    let live = true;
    setState({ items: [], loaded: false, error: null });
    Promise.all(ids.map((id) => api<Issue>(`/issues/${id}`).catch(() => null)))
      .then((xs) => live && setState({ items: xs.filter((x): x is Issue => x !== null), loaded: true, error: null }))
      .catch((e: unknown) => live && setState({ items: [], loaded: true, error: toApiError(e) }));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  if (!ids) return null;
  return { ...state, loading: !state.loaded, hasMore: false, loadMore: () => {}, reload: () => {}, patch: () => {} };
}

export function Select({ label, value, name, options, all }: { label: string; value: string; name: string; options: string[]; all: string }) {
  return (
    <label class="field field-inline">
      <span>{label}</span>
      <select value={value} onChange={(e) => setQuery({ [name]: e.currentTarget.value })}>
        <option value="">{all}</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {humanize(o)}
          </option>
        ))}
      </select>
    </label>
  );
}
