// Manager actions on an issue ticket: status, owner, merge, and moving its messages and evidence.
import { useState } from "preact/hooks";
import { api, evidenceUrl } from "../api";
import { formatDateTime, formatLocation, humanize, personName } from "../format";
import { useResource } from "../hooks";
import type { Evidence, Issue, IssueDetail, Page, PersonFull, Site, TimelineEntry } from "../types";
import { ActionError, Dialog, DialogActions, useAction } from "./Dialog";
import { Loading } from "./States";
import { t as tr } from "../i18n";

const enc = (v: string | number) => encodeURIComponent(String(v));

export function issueLabel(i: Issue): string {
  const t = i.title || [humanize(i.category), formatLocation(i.location)].filter(Boolean).join(" — ") || tr("Untitled");
  return `#${i.id} ${t}`;
}

export const STATUS_ACTIONS: Array<{ status: string; label: string; hint: string }> = [
  { status: "acknowledged", label: tr("Acknowledge"), hint: tr("Someone has seen it and will act.") },
  { status: "in_progress", label: tr("Mark in progress"), hint: tr("Work has started.") },
  { status: "resolved", label: tr("Resolve"), hint: tr("The problem is fixed.") },
  { status: "closed", label: tr("Close"), hint: tr("Nothing more to do on this ticket.") },
  { status: "open", label: tr("Reopen"), hint: tr("The problem is back or was not fixed.") },
];

/** Which status buttons make sense for a ticket in `status`. */
export function statusChoices(status: string): string[] {
  switch (status) {
    case "open":
      return ["acknowledged", "in_progress", "resolved", "closed"];
    case "acknowledged":
      return ["in_progress", "resolved", "closed"];
    case "in_progress":
      return ["resolved", "closed"];
    case "resolved":
      return ["closed", "open"];
    case "closed":
      return ["open"];
    default:
      return ["acknowledged", "in_progress", "resolved", "closed", "open"];
  }
}

export function StatusDialog({
  issue,
  status,
  onClose,
  onDone,
}: {
  issue: Issue;
  status: string;
  onClose: () => void;
  onDone: (d: IssueDetail) => void;
}) {
  const a = STATUS_ACTIONS.find((x) => x.status === status);
  const [note, setNote] = useState("");
  const [proofPick, setProofPick] = useState("");
  const act = useAction();
  const ending = status === "resolved" || status === "closed";
  // The site's policy: a photo proving the repair before a ticket is closed (checked again by the server).
  const sites = useResource<Page<Site> | Site[]>(ending && issue.site ? "/sites" : null);
  const siteList = Array.isArray(sites.data) ? sites.data : (sites.data?.items ?? []);
  const requireProof = !!siteList.find((x) => String(x.id) === String(issue.site?.id))?.settings?.require_proof;
  const evidence = ((issue as IssueDetail).evidence ?? []) as Evidence[];
  const hasProof = evidence.some((e) => e.role === "resolution_proof");
  const photos = evidence.filter((e) => e.kind === "photo" && e.role !== "resolution_proof");
  const askProof = ending && requireProof && !hasProof;
  const blocked = askProof && status === "closed" && !proofPick;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (blocked) return;
    const r = await act.run(async () => {
      if (askProof && proofPick) {
        await api<unknown>(`/evidence/${enc(proofPick)}/record`, {
          method: "POST",
          body: { record: { type: "issue", id: Number(issue.id) }, role: "resolution_proof", reason: note.trim() || null },
        });
      }
      return api<IssueDetail>(`/issues/${enc(issue.id)}/status`, { method: "POST", body: { status, note: note.trim() || null } });
    });
    if (r) onDone(r);
  };
  return (
    <Dialog title={`${a?.label ?? humanize(status)} — ${issueLabel(issue)}`} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <p class="muted">{a?.hint}</p>
        <p data-testid="status-confirm">{tr("Change ticket #{id} from {from} to {to}?", { id: String(issue.id), from: humanize(issue.status), to: humanize(status) })}</p>
        {askProof ? (
          <fieldset class="fieldset" data-testid="proof-needed">
            <legend>{tr("Proof photo")}</legend>
            <p class="notice notice-warn" role="note">
              {tr("This site needs a photo proving the repair before a ticket is closed.")}
            </p>
            {photos.length > 0 ? (
              <div class="proof-pick">
                {photos.map((p) => (
                  <label key={String(p.id)} class="proof-choice">
                    <input type="radio" name="proof" value={String(p.id)} checked={proofPick === String(p.id)} onChange={() => setProofPick(String(p.id))} />
                    <img src={evidenceUrl.thumbnail(p.id)} alt={tr("Photo from {who}", { who: personName(p.sender) })} width={64} height={64} loading="lazy" />
                    <span class="proof-meta">
                      {personName(p.sender)}
                      {p.sent_at ? ` · ${formatDateTime(p.sent_at)}` : ""}
                    </span>
                  </label>
                ))}
              </div>
            ) : (
              <p class="muted">{tr("No photo on this ticket yet: ask for one in the group; it is linked when it arrives.")}</p>
            )}
          </fieldset>
        ) : null}
        <label class="field">
          <span>{tr("Note")}{" "}{status === "closed" || status === "open" ? "(why)" : "(optional)"}</span>
          <textarea
            name="note"
            rows={3}
            value={note}
            onInput={(e) => setNote(e.currentTarget.value)}
            placeholder={status === "closed" ? tr("e.g. contractor confirmed, photo in the group") : ""}
          />
        </label>
        <ActionError error={act.error} />
        <DialogActions
          busy={act.busy}
          disabled={blocked}
          submit={askProof && !proofPick && status === "resolved" ? tr("Resolve without proof") : (a?.label ?? tr("Save"))}
          onCancel={onClose}
        />
      </form>
    </Dialog>
  );
}

export function AssignDialog({ issue, onClose, onDone }: { issue: Issue; onClose: () => void; onDone: (d: IssueDetail) => void }) {
  const people = useResource<Page<PersonFull>>("/people", { limit: 500 });
  const [filter, setFilter] = useState("");
  const [person, setPerson] = useState<string>(issue.owner ? String(issue.owner.id) : "");
  const [note, setNote] = useState("");
  const act = useAction();
  const all = people.data?.items ?? [];
  const f = filter.trim().toLowerCase();
  const shown = f
    ? all.filter((p) => `${p.name ?? ""} ${p.phone ?? ""} ${p.vendor?.name ?? ""}`.toLowerCase().includes(f) || String(p.id) === person)
    : all;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!person) return;
    const r = await act.run(() =>
      api<IssueDetail>(`/issues/${enc(issue.id)}/assign`, { method: "POST", body: { person: Number(person), note: note.trim() || null } }),
    );
    if (r) onDone(r);
  };
  return (
    <Dialog title={tr("Assign — {v0}", { v0: issueLabel(issue) })} onClose={onClose}>
      {people.error && !people.data ? (
        <ActionError error={people.error} />
      ) : !people.data ? (
        <Loading label={tr("Loading people…")} />
      ) : (
        <form class="form" onSubmit={submit}>
          {all.length > 12 ? (
            <label class="field">
              <span>{tr("Find a person")}</span>
              <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} placeholder={tr("name, phone or vendor")} />
            </label>
          ) : null}
          <label class="field">
            <span>{tr("Owner")}</span>
            <select name="person" value={person} onChange={(e) => setPerson(e.currentTarget.value)} required>
              <option value="">{tr("Choose a person…")}</option>
              {groupByVendor(shown).map(([vendor, ps]) => (
                <optgroup key={vendor ?? ""} label={vendor === null ? tr("Staff") : tr("{name} (vendor)", { name: vendor })} data-vendor={vendor ?? ""}>
                  {ps.map((p) => (
                    <option key={String(p.id)} value={String(p.id)}>
                      {personName(p)}
                    </option>
                  ))}
                </optgroup>
              ))}
            </select>
          </label>
          <label class="field">
            <span>{tr("Note (optional)")}</span>
            <input name="note" value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          </label>
          <ActionError error={act.error} />
          <DialogActions busy={act.busy} disabled={!person} submit={tr("Assign")} onCancel={onClose} />
        </form>
      )}
    </Dialog>
  );
}

/** People by vendor: staff (no vendor) first, then each vendor by name, names sorted within. */
export function groupByVendor(people: PersonFull[]): Array<[string | null, PersonFull[]]> {
  const groups = new Map<string | null, PersonFull[]>();
  for (const p of people) {
    const k = p.vendor?.name ?? null;
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  const byName = (a: PersonFull, b: PersonFull) => personName(a).localeCompare(personName(b));
  return [...groups.entries()]
    .sort(([a], [b]) => (a === null ? -1 : b === null ? 1 : a.localeCompare(b)))
    .map(([k, ps]) => [k, [...ps].sort(byName)]);
}

/** Open tickets of the same chat, except `exclude`. */
function useOpenTickets(chat: string | number | null | undefined, exclude: string | number | null) {
  const res = useResource<Page<Issue>>(chat === null || chat === undefined ? null : "/issues", { chat: chat ?? undefined, open: true, limit: 200 });
  const items = (res.data?.items ?? []).filter(
    (i) => String(i.id) !== String(exclude) && !i.merged_into && i.status !== "resolved" && i.status !== "closed",
  );
  return { ...res, items };
}

function TicketSelect({
  label,
  value,
  onChange,
  items,
  loading,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  items: Issue[];
  loading: boolean;
}) {
  if (loading) return <Loading label={tr("Loading open tickets…")} />;
  if (items.length === 0) return <p class="notice">{tr("There is no other open ticket in this chat.")}</p>;
  return (
    <label class="field">
      <span>{label}</span>
      <select name="ticket" value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{tr("Choose a ticket…")}</option>
        {items.map((i) => (
          <option key={String(i.id)} value={String(i.id)}>
            {issueLabel(i)} · {humanize(i.status)} · {formatDateTime(i.opened_at)}
          </option>
        ))}
      </select>
    </label>
  );
}

export function MergeDialog({ issue, onClose, onDone }: { issue: Issue; onClose: () => void; onDone: (d: IssueDetail) => void }) {
  const t = useOpenTickets(issue.chat?.id, issue.id);
  const [into, setInto] = useState("");
  const [note, setNote] = useState("");
  const act = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!into) return;
    const r = await act.run(() =>
      api<IssueDetail>(`/issues/${enc(issue.id)}/merge`, { method: "POST", body: { into: Number(into), note: note.trim() || null } }),
    );
    if (r) onDone(r);
  };
  return (
    <Dialog title={tr("Merge — {v0}", { v0: issueLabel(issue) })} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <p class="muted">
          {tr("This ticket's messages and evidence move into the ticket you choose, and this one is closed. Only tickets of the same chat can be merged.")}
        </p>
        {t.error && !t.data ? <ActionError error={t.error} /> : null}
        <TicketSelect label={tr("Merge into")} value={into} onChange={setInto} items={t.items} loading={!t.data && !t.error} />
        <label class="field">
          <span>{tr("Note (optional)")}</span>
          <input name="note" value={note} onInput={(e) => setNote(e.currentTarget.value)} placeholder={tr("e.g. same leak reported twice")} />
        </label>
        <ActionError error={act.error} />
        <DialogActions busy={act.busy} disabled={!into} submit={tr("Merge")} onCancel={onClose} />
      </form>
    </Dialog>
  );
}

/** "Not part of this ticket" or "Move to another ticket" for one timeline message. */
export function MoveMessageDialog({
  issue,
  entry,
  initial,
  opener,
  onClose,
  onDone,
}: {
  issue: Issue;
  entry: TimelineEntry;
  initial: "none" | "move";
  /** The message opened this ticket: moving it away ends the ticket. */
  opener?: boolean;
  onClose: () => void;
  onDone: () => void;
}) {
  const t = useOpenTickets(issue.chat?.id, issue.id);
  const [mode, setMode] = useState<"none" | "move">(initial);
  const [target, setTarget] = useState("");
  const [reason, setReason] = useState("");
  const act = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (mode === "move" && !target) return;
    const record = mode === "none" ? null : { type: "issue", id: Number(target) };
    const r = await act.run(() =>
      api<unknown>(`/messages/${enc(entry.id)}/record`, { method: "POST", body: { record, reason: reason.trim() || null } }),
    );
    if (r !== undefined) onDone();
  };
  return (
    <Dialog title={tr("Message from {v0}", { v0: personName(entry.sender) })} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        {entry.text ? <blockquote class="quote msg-text">{entry.text}</blockquote> : null}
        <fieldset class="fieldset">
          <legend>{tr("This message…")}</legend>
          <label class="field field-check">
            <input type="radio" name="mode" value="none" checked={mode === "none"} onChange={() => setMode("none")} />
            {tr("is not part of this ticket (link it to nothing)")}
          </label>
          <label class="field field-check">
            <input type="radio" name="mode" value="move" checked={mode === "move"} onChange={() => setMode("move")} />
            {tr("belongs to another ticket")}
          </label>
        </fieldset>
        {opener ? (
          <p class="notice notice-warn" role="note">
            {tr("This message opened ticket #")}{String(issue.id)}{tr(". Moving it away ends this ticket; its other messages are then linked again automatically or left without a ticket. To combine two tickets, use “Merge…” instead.")}
          </p>
        ) : null}
        {mode === "move" ? (
          <TicketSelect label={tr("Move to")} value={target} onChange={setTarget} items={t.items} loading={!t.data && !t.error} />
        ) : null}
        <label class="field">
          <span>{tr("Why (kept in the history)")}</span>
          <input name="reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </label>
        <ActionError error={act.error} />
        <DialogActions busy={act.busy} disabled={(mode === "move" && !target)} submit={mode === "none" ? tr("Unlink message") : tr("Move message")} onCancel={onClose} />
      </form>
    </Dialog>
  );
}

/** Move one piece of evidence to another ticket (as evidence or proof). */
export function MoveEvidenceDialog({
  issue,
  ev,
  onClose,
  onDone,
}: {
  issue: Issue;
  ev: Evidence;
  onClose: () => void;
  onDone: () => void;
}) {
  const t = useOpenTickets(issue.chat?.id, issue.id);
  const [target, setTarget] = useState("");
  const [role, setRole] = useState("evidence");
  const [reason, setReason] = useState("");
  const act = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!target) return;
    const r = await act.run(() =>
      api<unknown>(`/evidence/${enc(ev.id)}/record`, {
        method: "POST",
        body: { record: { type: "issue", id: Number(target) }, role, reason: reason.trim() || null },
      }),
    );
    if (r !== undefined) onDone();
  };
  return (
    <Dialog title={tr("Move {v0} {v1}", { v0: humanize(ev.kind).toLowerCase(), v1: ev.filename ?? "" }).trim()} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <TicketSelect label={tr("Move to")} value={target} onChange={setTarget} items={t.items} loading={!t.data && !t.error} />
        <label class="field">
          <span>{tr("As")}</span>
          <select name="role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            <option value="evidence">{tr("Evidence")}</option>
            <option value="resolution_proof">{tr("Resolution proof")}</option>
          </select>
        </label>
        <label class="field">
          <span>{tr("Why (kept in the history)")}</span>
          <input name="reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </label>
        <ActionError error={act.error} />
        <DialogActions busy={act.busy} disabled={!target} submit={tr("Move")} onCancel={onClose} />
      </form>
    </Dialog>
  );
}
