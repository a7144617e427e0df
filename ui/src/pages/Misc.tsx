// Plain rendering of unknown JSON; the role and 404 pages.
import { Empty } from "../components/States";
import { formatDateTime, humanize } from "../format";
import { useDocumentTitle } from "../hooks";
import { Link } from "../router";
import { t } from "../i18n";

/** Renders unknown JSON as a readable definition list (text only). */
export function Plain({ value, depth = 0 }: { value: unknown; depth?: number }) {
  if (value === null || value === undefined || value === "") return <span class="muted">—</span>;
  if (typeof value === "boolean") return <>{value ? t("Yes") : t("No")}</>;
  if (typeof value === "number") return <>{value.toLocaleString()}</>;
  if (typeof value === "string") {
    return <>{/^\d{4}-\d{2}-\d{2}T/.test(value) ? formatDateTime(value) : value}</>;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return <span class="muted">{t("none")}</span>;
    if (depth > 2) return <>{value.length}{" "}{t("items")}</>;
    return (
      <ul class="plain-list">
        {value.slice(0, 50).map((v, i) => (
          <li key={i}>
            <Plain value={v} depth={depth + 1} />
          </li>
        ))}
      </ul>
    );
  }
  if (typeof value === "object") {
    const o = value as Record<string, unknown>;
    if ("name" in o && Object.keys(o).length <= 3 && typeof o.name === "string") return <>{o.name}</>;
    if (depth > 2) return <>…</>;
    return (
      <dl class="plain">
        {Object.entries(o).map(([k, v]) => (
          <div key={k} class="fact">
            <dt>{humanize(k)}</dt>
            <dd>
              <Plain value={v} depth={depth + 1} />
            </dd>
          </div>
        ))}
      </dl>
    );
  }
  return <>{String(value)}</>;
}

export function NotForRole({ what }: { what: string }) {
  useDocumentTitle(what);
  return (
    <div class="page">
      <Empty title={t("{what} are not available to your role", { what })} icon="user">
        {t("Ask an administrator if you need to see them.")}{" "}<Link href="/">{t("Go to the dashboard")}</Link>
      </Empty>
    </div>
  );
}

export function NotFound() {
  useDocumentTitle(t("Not found"));
  return (
    <div class="page">
      <Empty title={t("This page does not exist")} icon="issue">
        <Link href="/">{t("Go to the dashboard")}</Link>
      </Empty>
    </div>
  );
}
