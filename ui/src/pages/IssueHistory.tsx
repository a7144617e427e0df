// One history per ticket (GET /issues/{id}/timeline): messages, status changes, assignments, notes and corrections
// in one list, oldest first, each said in plain words in the user's language ("Ali reported progress").
import type { ComponentChildren } from "preact";
import type { ApiError } from "../api";
import { KindBadge } from "../components/Badges";
import { EvidenceStrip } from "../components/EvidenceView";
import { Loading, Problem } from "../components/States";
import { formatDateTime, isoAttr, KIND_LABELS, personName } from "../format";
import { t } from "../i18n";
import type { HistoryEntry, HistoryWho, Issue } from "../types";

function who(w: HistoryWho | null | undefined): string {
  if (!w) return t("Someone");
  return w.user ? (w.name ?? t("Someone")) : personName(w);
}

function recordName(r: { type: string; id: string | number } | null | undefined): string {
  if (!r) return "";
  return r.type === "task" ? t("task #{id}", { id: String(r.id) }) : t("ticket #{id}", { id: String(r.id) });
}

/** The entry in plain words, from its fields (the server's English `summary` when the event is not known here). */
export function sentence(e: HistoryEntry, issue: Issue): string {
  const by = who(e.actor);
  const here = (r: { type: string; id: string | number } | null | undefined) => !!r && r.type === "issue" && String(r.id) === String(issue.id);
  switch (e.event) {
    case "opened":
      return t("{who} reported the problem", { who: by });
    case "message":
      if (e.status === "in_progress") return t("{who} reported progress", { who: by });
      if (e.status === "resolved") return t("{who} reported it fixed", { who: by });
      return e.message?.type === "media" ? t("{who} sent a photo or file", { who: by }) : t("{who} wrote", { who: by });
    case "status":
      switch (e.status) {
        case "acknowledged":
          return t("{who} acknowledged", { who: by });
        case "in_progress":
          return t("{who} marked it in progress", { who: by });
        case "resolved":
          return t("{who} resolved it", { who: by });
        case "closed":
          return t("{who} closed it", { who: by });
        case "open":
          return t("{who} reopened it", { who: by });
      }
      break;
    case "assigned":
      return t("Assigned to {person} by {who}", { person: who(e.person), who: by });
    case "vendor_assigned":
      return e.vendor ? t("Assigned to vendor {vendor} by {who}", { vendor: e.vendor, who: by }) : t("{who} took the ticket from its vendor", { who: by });
    case "merged":
      return here(e.target) ? t("{who} merged another ticket into this one", { who: by }) : t("{who} merged this ticket into {record}", { who: by, record: recordName(e.target) });
    case "reclassified":
      if (e.place && String(e.message?.id) === String(issue.id)) return t("Moved to {place} by {who}", { place: e.place, who: by });
      return t("{who} read a message as {kind}", { who: by, kind: (KIND_LABELS[e.kind ?? ""] ?? e.kind ?? "").toLowerCase() });
    case "message_moved":
      if (!e.target) return t("{who} took a message off this ticket", { who: by });
      return here(e.target) ? t("{who} added a message to this ticket", { who: by }) : t("{who} moved a message to {record}", { who: by, record: recordName(e.target) });
    case "evidence_moved":
      if (!e.target) return t("{who} took a photo off this ticket", { who: by });
      if (here(e.target)) return e.proof ? t("{who} marked a photo as proof of the repair", { who: by }) : t("{who} marked a photo as evidence", { who: by });
      return t("{who} moved a photo to {record}", { who: by, record: recordName(e.target) });
  }
  return e.summary;
}

export function History({
  issue,
  entries,
  error,
  onRetry,
  menu,
}: {
  issue: Issue;
  entries: HistoryEntry[] | null;
  error: ApiError | null;
  onRetry: () => void;
  /** The correction menu for a message entry (managers). */
  menu?: (e: HistoryEntry) => ComponentChildren;
}) {
  if (error && !entries) return <Problem error={error} what={t("History")} onRetry={onRetry} />;
  if (!entries) return <Loading label={t("Loading history…")} />;
  if (entries.length === 0) return <p class="muted">{t("No linked messages.")}</p>;
  return (
    <ol class="timeline" data-testid="history">
      {entries.map((e, n) => {
        const m = e.event === "message" || e.event === "opened" ? e.message : null;
        return (
          <li key={n} class={`tl-item tl-${e.event}${m ? "" : " tl-action"}`} data-event={e.event} data-at={e.at} data-id={m ? String(m.id) : undefined} data-kind={m?.kind ?? ""}>
            <div class="tl-head">
              <strong class="tl-what">{sentence(e, issue)}</strong>
              {m ? <KindBadge kind={m.kind} /> : null}
              <time class="tl-time" dateTime={isoAttr(e.at)}>
                {formatDateTime(e.at)}
              </time>
              {m && menu ? menu(e) : null}
            </div>
            {m ? m.text ? <p class="msg-text">{m.text}</p> : m.media && m.media.length > 0 ? null : <p class="msg-text msg-muted">{t("No text.")}</p> : null}
            {m && m.media && m.media.length > 0 ? (
              <div data-photos="">
                <EvidenceStrip items={m.media} context={who(e.actor)} />
              </div>
            ) : null}
            {e.note ? <p class="tl-note">“{e.note}”</p> : null}
            {m?.link_reason && e.event === "message" ? <p class="tl-reason">{t("Linked because:")} {m.link_reason}</p> : null}
          </li>
        );
      })}
    </ol>
  );
}
