import { useResource } from "../hooks";
import { t } from "../i18n";
import type { Page, Ref } from "../types";

/** A site picker (by id) over GET /sites; `all` is the label of the empty choice. */
export function SiteSelect({
  value,
  onChange,
  name,
  all,
  inline = true,
  hideWhenOne = false,
}: {
  value: string;
  onChange: (v: string) => void;
  name: string;
  all: string;
  inline?: boolean;
  hideWhenOne?: boolean;
}) {
  const sites = useResource<Page<Ref>>("/sites", { limit: 500 });
  if (hideWhenOne && (sites.data?.items.length ?? 0) <= 1) return null;
  return (
    <label class={`field${inline ? " field-inline" : ""}`}>
      <span>{t("Site")}</span>
      <select name={name} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{all}</option>
        {sites.data?.items.map((s) => (
          <option key={String(s.id)} value={String(s.id)}>
            {s.name ?? String(s.id)}
          </option>
        ))}
      </select>
    </label>
  );
}
