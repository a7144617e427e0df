// "Correct classification": a form prefilled from the message's classification; before confirming it shows, in plain
// words, what the change will do (the server's dry run); the classifier's cues stay folded away.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { CATEGORIES, humanize, KIND_LABELS, KINDS, PRIORITIES, TASK_STATUSES } from "../format";
import type { Classification, Location, Message } from "../types";
import { ActionError, Dialog, DialogActions, useAction } from "./Dialog";
import { Loading } from "./States";
import { t } from "../i18n";

export interface Correctable {
  id: string | number;
  text?: string | null;
  classification?: Classification | null;
  kind?: string | null;
}

function Choice({
  label,
  name,
  value,
  options,
  none,
  onChange,
  labels,
}: {
  label: string;
  name: string;
  value: string;
  options: string[];
  none?: string;
  onChange: (v: string) => void;
  labels?: Record<string, string>;
}) {
  return (
    <label class="field">
      <span>{label}</span>
      <select name={name} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {none !== undefined ? <option value="">{none}</option> : null}
        {options.map((o) => (
          <option key={o} value={o}>
            {labels?.[o] ?? humanize(o)}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The classifier's reasons, folded away: managers decide on the message, not on cue lists. */
function Cues({ c }: { c: Classification | null | undefined }) {
  if (!c) return null;
  return (
    <details class="cues-box">
      <summary>{t("Why the classifier chose “{kind}”", { kind: KIND_LABELS[c.kind] ?? humanize(c.kind) })}</summary>
      {c.cues && c.cues.length > 0 ? (
        <ul class="why-cues">
          {c.cues.map((cue, i) => (
            <li key={i}>{cue}</li>
          ))}
        </ul>
      ) : (
        <p class="muted">{t("No cues recorded.")}</p>
      )}
    </details>
  );
}

interface LinkRef {
  type: string;
  id: number;
}
export interface SideEffect {
  kind: string;
  ticket?: number;
  task?: number;
  message?: number;
  evidence?: number;
  from?: string | LinkRef | null;
  to?: string | LinkRef | null;
}

function where(l: string | LinkRef | null | undefined): string {
  if (!l || typeof l === "string") return t("no record");
  return l.type === "issue" ? t("ticket #{id}", { id: l.id }) : t("task #{id}", { id: l.id });
}

/** One side effect of a correction in plain words ("Also opens ticket #17"). */
export function sideEffectText(e: SideEffect): string {
  const st = (v: string | LinkRef | null | undefined) => (typeof v === "string" ? humanize(v).toLowerCase() : "");
  switch (e.kind) {
    case "ticket_opened":
      return t("Also opens ticket #{id}", { id: e.ticket ?? "" });
    case "ticket_removed":
      return t("Removes ticket #{id}", { id: e.ticket ?? "" });
    case "ticket_closed":
      return t("Closes ticket #{id} (was {from})", { id: e.ticket ?? "", from: st(e.from) });
    case "ticket_reopened":
      return t("Reopens ticket #{id} (was {from})", { id: e.ticket ?? "", from: st(e.from) });
    case "ticket_status_changed":
      return t("Ticket #{id} goes from {from} to {to}", { id: e.ticket ?? "", from: st(e.from), to: st(e.to) });
    case "task_created":
      return t("Adds task #{id}", { id: e.task ?? "" });
    case "task_removed":
      return t("Removes task #{id}", { id: e.task ?? "" });
    case "message_moved":
      return t("Moves message #{id} from {from} to {to}", { id: e.message ?? "", from: where(e.from), to: where(e.to) });
    case "evidence_moved":
      return t("Moves photo or file #{id} from {from} to {to}", { id: e.evidence ?? "", from: where(e.from), to: where(e.to) });
    default:
      return humanize(e.kind);
  }
}

/** What the correction will do, asked of the server with ?dry_run=true (nothing is kept). */
function usePreview(id: string | number, body: Record<string, unknown>): { effects: SideEffect[] | null; error: string | null } {
  const key = JSON.stringify(body);
  const [state, setState] = useState<{ effects: SideEffect[] | null; error: string | null }>({ effects: null, error: null });
  useEffect(() => {
    let live = true;
    setState({ effects: null, error: null });
    const timer = window.setTimeout(() => {
      api<{ side_effects?: SideEffect[] }>(`/messages/${encodeURIComponent(String(id))}/classification`, { method: "POST", body, query: { dry_run: true } })
        .then((r) => live && setState({ effects: r.side_effects ?? [], error: null }))
        .catch((e: unknown) => live && setState({ effects: null, error: e instanceof Error ? e.message : String(e) }));
    }, 250);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, key]);
  return state;
}

/** Loads the classification when the caller does not have it (issue timelines carry only the kind). */
function useClassification(m: Correctable): { c: Classification | null; text: string | null; loading: boolean } {
  const [state, setState] = useState<{ c: Classification | null; text: string | null; loading: boolean }>({
    c: m.classification ?? null,
    text: m.text ?? null,
    loading: !m.classification,
  });
  useEffect(() => {
    if (m.classification) return;
    let live = true;
    api<Message>(`/messages/${encodeURIComponent(String(m.id))}`)
      .then((full) => live && setState({ c: full.classification ?? null, text: full.text ?? m.text ?? null, loading: false }))
      .catch(() => live && setState({ c: m.kind ? { kind: m.kind } : null, text: m.text ?? null, loading: false }));
    return () => {
      live = false;
    };
  }, [m.id]);
  return state;
}

export function ReclassifyDialog({
  message,
  opener,
  onClose,
  onDone,
}: {
  message: Correctable;
  /** The message opened a ticket: another kind than issue report ends that ticket. */
  opener?: boolean;
  onClose: () => void;
  onDone: (updated: Message) => void;
}) {
  const { c, text, loading } = useClassification(message);
  return (
    <Dialog title={t("Correct classification")} onClose={onClose}>
      {text ? <blockquote class="quote msg-text">{text}</blockquote> : null}
      {loading ? <Loading label={t("Loading the classification…")} /> : <ReclassifyForm id={message.id} c={c} opener={opener} onClose={onClose} onDone={onDone} />}
    </Dialog>
  );
}

function ReclassifyForm({
  id,
  c,
  opener,
  onClose,
  onDone,
}: {
  id: string | number;
  c: Classification | null;
  opener?: boolean;
  onClose: () => void;
  onDone: (updated: Message) => void;
}) {
  const loc: Location = c?.location ?? {};
  const [kind, setKind] = useState<string>(c?.kind ?? "chatter");
  const [status, setStatus] = useState<string>(c?.status ?? "");
  const [category, setCategory] = useState<string>(c?.category ?? "");
  const [priority, setPriority] = useState<string>(c?.priority ?? "");
  const [block, setBlock] = useState(loc.block ?? "");
  const [level, setLevel] = useState(loc.level ?? "");
  const [unit, setUnit] = useState(loc.unit ?? "");
  const [area, setArea] = useState(loc.area ?? "");
  const [repeat, setRepeat] = useState(!!c?.repeat);
  const [reason, setReason] = useState("");
  const act = useAction();

  const isTask = kind === "task_report";
  const isIssue = kind === "issue_report";

  const location: Location = {};
  if (block.trim()) location.block = block.trim();
  if (level.trim()) location.level = level.trim();
  if (unit.trim()) location.unit = unit.trim();
  if (area.trim()) location.area = area.trim().toLowerCase();
  const body = {
    kind,
    status: isTask ? status || "done" : null,
    category: kind === "chatter" ? null : category || null,
    location,
    priority: isIssue ? priority || null : null,
    repeat,
    reason: reason.trim() || null,
  };
  const preview = usePreview(id, body);
  const submit = async (e: Event) => {
    e.preventDefault();
    const r = await act.run(() => api<Message>(`/messages/${encodeURIComponent(String(id))}/classification`, { method: "POST", body }));
    if (r) onDone(r);
  };

  return (
    <form class="form" onSubmit={submit}>
      <Cues c={c} />
      <div class="form-grid">
        <Choice label={t("Kind")} name="kind" value={kind} options={KINDS} labels={KIND_LABELS} onChange={setKind} />
        {isTask ? (
          <Choice label={t("Task status")} name="status" value={status || "done"} options={TASK_STATUSES} onChange={setStatus} />
        ) : null}
        {kind !== "chatter" ? (
          <Choice label={t("Category")} name="category" value={category} options={CATEGORIES} none={t("None")} onChange={setCategory} />
        ) : null}
        {isIssue ? <Choice label={t("Priority")} name="priority" value={priority} options={PRIORITIES} none={t("Not set")} onChange={setPriority} /> : null}
      </div>
      {kind !== "chatter" ? (
        <fieldset class="fieldset">
          <legend>{t("Location")}</legend>
          <div class="form-grid form-grid-4">
            <label class="field">
              <span>{t("Block")}</span>
              <input name="block" value={block} onInput={(e) => setBlock(e.currentTarget.value)} autoComplete="off" />
            </label>
            <label class="field">
              <span>{t("Level")}</span>
              <input name="level" value={level} onInput={(e) => setLevel(e.currentTarget.value)} autoComplete="off" />
            </label>
            <label class="field">
              <span>{t("Unit")}</span>
              <input name="unit" value={unit} onInput={(e) => setUnit(e.currentTarget.value)} autoComplete="off" />
            </label>
            <label class="field">
              <span>{t("Area")}</span>
              <input name="area" value={area} onInput={(e) => setArea(e.currentTarget.value)} placeholder={t("lobby, pump room…")} autoComplete="off" />
            </label>
          </div>
        </fieldset>
      ) : null}
      <label class="field field-check">
        <input type="checkbox" name="repeat" checked={repeat} onChange={(e) => setRepeat(e.currentTarget.checked)} />
        {t("Says the problem happened before")}
      </label>
      <label class="field">
        <span>{t("Why (kept in the history)")}</span>
        <input name="reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} placeholder={t("e.g. this is an acknowledgement, not a task")} />
      </label>
      {opener && kind !== "issue_report" ? (
        <p class="notice notice-warn" role="note">
          {t("This message opened the ticket. As “")}{KIND_LABELS[kind] ?? humanize(kind)}{t("” it no longer opens one, so the ticket ends.")}
        </p>
      ) : null}
      <section class="side-effects" aria-live="polite" data-testid="side-effects" data-ready={preview.effects !== null ? "true" : "false"}>
        <h3>{t("What this will do")}</h3>
        {preview.error ? (
          <p class="form-error">{t("The preview failed: {message}", { message: preview.error })}</p>
        ) : preview.effects === null ? (
          <p class="muted">{t("Working it out…")}</p>
        ) : preview.effects.length === 0 ? (
          <p class="muted" data-effect="none">
            {t("Only this message changes.")}
          </p>
        ) : (
          <ul>
            {preview.effects.map((fx, i) => (
              <li key={i} data-effect={fx.kind}>
                {sideEffectText(fx)}
              </li>
            ))}
          </ul>
        )}
      </section>
      <ActionError error={act.error} />
      <DialogActions busy={act.busy} submit={t("Apply correction")} onCancel={onClose} disabled={preview.effects === null && !preview.error} />
    </form>
  );
}
