// The report files tapak writes on schedule ([reports] in the configuration): GET /api/v1/reports/files, each a
// download of GET /api/v1/reports/files/{name}.
import { Empty, Loading, Problem } from "../components/States";
import { formatBytes, formatDateTime } from "../format";
import { useResource } from "../hooks";
import { t } from "../i18n";
import { setQuery, useLocation } from "../router";

interface ReportFile {
  name: string;
  period: string;
  label: string;
  site: number | null;
  extension: string;
  bytes: number;
  written_at: string | null;
}

const PERIODS: Array<[string, string]> = [
  ["daily", "Daily"],
  ["weekly", "Weekly"],
  ["monthly", "Monthly"],
];

export function ReportFiles() {
  const { search } = useLocation();
  const period = search.get("files") ?? "daily";
  const list = useResource<{ items: ReportFile[] }>("/reports/files", { period });
  const items = list.data?.items ?? [];
  return (
    <section class="panel" aria-labelledby="h-report-files" data-testid="report-files">
      <div class="panel-head">
        <h2 id="h-report-files">{t("Saved report files")}</h2>
        <label class="field field-inline">
          <span>{t("Period")}</span>
          <select value={period} onChange={(e) => setQuery({ files: e.currentTarget.value === "daily" ? null : e.currentTarget.value })}>
            {PERIODS.map(([v, name]) => (
              <option key={v} value={v}>
                {t(name)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {list.error && !list.data ? (
        <Problem error={list.error} what={t("Saved report files")} onRetry={list.reload} />
      ) : !list.data ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty title={t("No saved report files yet")} icon="task">
          {t("tapak writes them at the times set in [reports] and keeps them for the configured number of days.")}
        </Empty>
      ) : (
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th>{t("Period")}</th>
                <th>{t("Site")}</th>
                <th>{t("File")}</th>
                <th>{t("Size")}</th>
                <th>{t("Written")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((f) => (
                <tr key={f.name}>
                  <td>{f.label}</td>
                  <td>{f.site === null ? t("All sites") : t("Site {id}", { id: f.site })}</td>
                  <td>
                    <a href={`/api/v1/reports/files/${encodeURIComponent(f.name)}`} download data-file={f.name}>
                      {f.extension.toUpperCase()}
                    </a>
                  </td>
                  <td>{formatBytes(f.bytes)}</td>
                  <td>{formatDateTime(f.written_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
