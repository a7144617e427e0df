// "Correct classification": a form prefilled from the message's classification, showing the classifier's cues.
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

function Cues({ c }: { c: Classification | null | undefined }) {
  if (!c) return null;
  const conf = typeof c.confidence === "number" ? Math.round(c.confidence * 100) : null;
  return (
    <div class="cues-box">
      <p class="why-title">
        {t("The classifier said")}{" "}<strong>{KIND_LABELS[c.kind] ?? humanize(c.kind)}</strong>
        {conf !== null ? ` (${conf}% sure)` : ""}{" "}{t("because of:")}
      </p>
      {c.cues && c.cues.length > 0 ? (
        <ul class="why-cues">
          {c.cues.map((cue, i) => (
            <li key={i}>{cue}</li>
          ))}
        </ul>
      ) : (
        <p class="muted">{t("No cues recorded.")}</p>
      )}
    </div>
  );
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

  const submit = async (e: Event) => {
    e.preventDefault();
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
      <ActionError error={act.error} />
      <DialogActions busy={act.busy} submit={t("Save correction")} onCancel={onClose} />
    </form>
  );
}
