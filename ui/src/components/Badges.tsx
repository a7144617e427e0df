import { humanize, KIND_LABELS } from "../format";
import { t } from "../i18n";

/** Every badge carries its meaning in text, colour is only a second channel. */
export function KindBadge({ kind }: { kind: string | null | undefined }) {
  if (!kind) return <span class="badge badge-none">{t("Unclassified")}</span>;
  return <span class={`badge kind-${kind}`}>{KIND_LABELS[kind] ?? humanize(kind)}</span>;
}

export function StatusBadge({ status }: { status: string | null | undefined }) {
  if (!status) return null;
  return <span class={`badge status-${status}`}>{humanize(status)}</span>;
}

export function PriorityBadge({ priority }: { priority: string | null | undefined }) {
  if (!priority) return null;
  return (
    <span class={`badge prio-${priority}`}>
      {priority === "urgent" ? "⚠ " : ""}
      {humanize(priority)}
    </span>
  );
}

export function Tag({ children, tone = "plain" }: { children: preact.ComponentChildren; tone?: string }) {
  return <span class={`tag tag-${tone}`}>{children}</span>;
}
