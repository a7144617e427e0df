import { useRef, useState } from "preact/hooks";
import { api } from "../api";
import { can, useUser } from "../auth";
import { KindBadge, PriorityBadge, StatusBadge } from "../components/Badges";
import { ActionError, useAction } from "../components/Dialog";
import { EvidenceItem } from "../components/EvidenceView";
import { Icon } from "../components/Icon";
import { PageHeader } from "../components/Layout";
import { ReclassifyDialog } from "../components/Reclassify";
import { Empty, Loading, Problem } from "../components/States";
import {
  AssignDialog,
  MergeDialog,
  MoveEvidenceDialog,
  MoveMessageDialog,
  STATUS_ACTIONS,
  StatusDialog,
  statusChoices,
} from "../components/TicketActions";
import { formatDateTime, formatLocation, humanize, isoAttr, KIND_LABELS, personName, relative } from "../format";
import { useDocumentTitle, useResource } from "../hooks";
import { Link, navigate } from "../router";
import type { Correction, Evidence, Issue, IssueDetail as IssueDetailData, TimelineEntry } from "../types";
import { SlaCell } from "./Issues";

type Open =
  | { what: "status"; status: string }
  | { what: "assign" }
  | { what: "merge" }
  | { what: "reclassify"; entry: TimelineEntry }
  | { what: "move-message"; entry: TimelineEntry; mode: "none" | "move" }
  | { what: "move-evidence"; ev: Evidence }
  | null;

export function IssueDetail({ id }: { id: string }) {
  const res = useResource<IssueDetailData>(`/issues/${encodeURIComponent(id)}`);
  const user = useUser();
  const manage = can(user, "manage");
  const [open, setOpen] = useState<Open>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const i = res.data;
  const title = i ? i.title || humanize(i.category) || `Issue ${i.id}` : "Issue";
  useDocumentTitle(title);

  if (res.error && (!i || res.error.status === 404)) {
    return (
      <div class="page">
        <BackLink />
        {res.error.status === 404 ? (
          <Empty title={i ? "This ticket no longer exists" : "This issue was not found"} icon="issue">
            {i
              ? "The message that opened it was moved or reclassified, so there is no ticket left. Its messages are still in the inbox."
              : "It may have been merged into another ticket, or issue tickets are not available yet on this server."}
          </Empty>
        ) : (
          <Problem error={res.error} what="Issue" onRetry={res.reload} />
        )}
      </div>
    );
  }
  if (!i) return <Loading label="Loading issue…" />;

  const close = () => setOpen(null);
  /** A write answered with the new ticket: show it, say what happened. */
  const done = (msg: string, d?: IssueDetailData) => {
    setOpen(null);
    setFlash(msg);
    if (d && String(d.id) === String(i.id)) res.set(d);
    else if (d) navigate(`/issues/${encodeURIComponent(String(d.id))}`);
    else res.reload();
  };

  const evidence = (i.evidence ?? []) as Evidence[];
  const proof = evidence.filter((e) => e.role === "resolution_proof");
  const plain = evidence.filter((e) => e.role !== "resolution_proof");
  const choices = statusChoices(i.status);

  return (
    <div class="page page-issue">
      <BackLink />
      <PageHeader title={title}>
        <StatusBadge status={i.status} />
        <PriorityBadge priority={i.priority} />
      </PageHeader>

      {i.merged_into ? (
        <p class="notice">
          This ticket was merged into{" "}
          <Link href={`/issues/${encodeURIComponent(String(i.merged_into))}`}>ticket #{String(i.merged_into)}</Link>.
        </p>
      ) : null}

      {res.error ? (
        <p class="form-error" role="alert">
          Could not refresh the ticket: {res.error.message}
        </p>
      ) : null}

      <div class="visually-hidden" aria-live="polite">
        {flash ?? ""}
      </div>
      {flash ? (
        <p class="notice notice-ok" role="status" data-testid="flash">
          {flash}{" "}
          <button type="button" class="link-btn" onClick={() => setFlash(null)} aria-label="Dismiss">
            <Icon name="close" size={14} />
          </button>
        </p>
      ) : null}

      {manage ? (
        <section class="action-bar" aria-label="Ticket actions">
          {STATUS_ACTIONS.filter((a) => choices.includes(a.status)).map((a) => (
            <button
              key={a.status}
              type="button"
              class={`btn${a.status === "resolved" || (a.status === "acknowledged" && i.status === "open") ? " btn-primary" : ""}`}
              data-action={a.status}
              onClick={() => setOpen({ what: "status", status: a.status })}
            >
              {a.label}
            </button>
          ))}
          <button type="button" class="btn" data-action="assign" onClick={() => setOpen({ what: "assign" })}>
            <Icon name="user" size={16} /> {i.owner ? "Reassign" : "Assign"}
          </button>
          {!i.merged_into && i.status !== "closed" ? (
            <button type="button" class="btn" data-action="merge" onClick={() => setOpen({ what: "merge" })}>
              Merge…
            </button>
          ) : null}
        </section>
      ) : null}

      <div class="detail-grid">
        <section class="panel" aria-labelledby="facts">
          <h2 id="facts" class="visually-hidden">
            Details
          </h2>
          <dl class="facts">
            <Fact label="Ticket">#{String(i.id)}</Fact>
            <Fact label="Category">{humanize(i.category)}</Fact>
            <Fact label="Location">{formatLocation(i.location)}</Fact>
            <Fact label="Site">{i.site?.name}</Fact>
            <Fact label="Chat">{i.chat?.name}</Fact>
            <Fact label="Reported by">{i.reported_by ? personName(i.reported_by) : null}</Fact>
            <Fact label="Owner">
              <span data-testid="owner">{i.owner ? personName(i.owner as { name?: string | null; phone?: string | null }) : "Nobody yet"}</span>
            </Fact>
            <Fact label="Opened">
              <time dateTime={isoAttr(i.opened_at)}>{formatDateTime(i.opened_at)}</time>
            </Fact>
            <Fact label="Resolved">{i.resolved_at ? <time dateTime={isoAttr(i.resolved_at)}>{formatDateTime(i.resolved_at)}</time> : null}</Fact>
            {i.closed_at ? (
              <Fact label="Closed">
                <time dateTime={isoAttr(i.closed_at)}>{formatDateTime(i.closed_at)}</time>
              </Fact>
            ) : null}
            <Fact label="Respond by">
              <Deadline at={i.sla?.respond_by} breached={i.sla?.respond_breached} />
            </Fact>
            <Fact label="Resolve by">
              <Deadline at={i.sla?.resolve_by} breached={i.sla?.resolve_breached} done={i.status === "resolved" || i.status === "closed"} />
            </Fact>
            <Fact label="SLA">
              <SlaCell issue={i} />
            </Fact>
            {i.repeat_of ? (
              <Fact label="Repeat of">
                <Link href={`/issues/${encodeURIComponent(String(i.repeat_of))}`}>earlier ticket #{String(i.repeat_of)} →</Link>
              </Fact>
            ) : null}
          </dl>
        </section>

        <section class="panel" aria-labelledby="gallery">
          <h2 id="gallery">Evidence</h2>
          {plain.length === 0 ? (
            <p class="muted">No photos or files linked as evidence.</p>
          ) : (
            <Gallery items={plain} issue={i} manage={manage} onMove={(ev) => setOpen({ what: "move-evidence", ev })} onDone={done} />
          )}
          <h2 class="h-proof">Resolution proof</h2>
          {proof.length === 0 ? (
            <p class="muted">{i.status === "resolved" || i.status === "closed" ? "Resolved without photo proof." : "None yet."}</p>
          ) : (
            <Gallery items={proof} issue={i} manage={manage} onMove={(ev) => setOpen({ what: "move-evidence", ev })} onDone={done} />
          )}
        </section>
      </div>

      <section class="panel" aria-labelledby="timeline">
        <h2 id="timeline">Timeline</h2>
        {i.timeline && i.timeline.length > 0 ? (
          <ol class="timeline">
            {i.timeline.map((t) => (
              <li key={String(t.id)} class="tl-item" data-id={String(t.id)} data-kind={t.kind ?? ""}>
                <div class="tl-head">
                  <strong>{personName(t.sender)}</strong>
                  <KindBadge kind={t.kind} />
                  <time class="tl-time" dateTime={isoAttr(t.sent_at)}>
                    {formatDateTime(t.sent_at)}
                  </time>
                  {manage ? (
                    <CorrectMenu
                      onReclassify={() => setOpen({ what: "reclassify", entry: t })}
                      onUnlink={() => setOpen({ what: "move-message", entry: t, mode: "none" })}
                      onMove={() => setOpen({ what: "move-message", entry: t, mode: "move" })}
                    />
                  ) : null}
                </div>
                {t.text ? <p class="msg-text">{t.text}</p> : <p class="msg-text msg-muted">No text.</p>}
                {t.link_reason ? <p class="tl-reason">Linked because: {t.link_reason}</p> : null}
              </li>
            ))}
          </ol>
        ) : (
          <p class="muted">No linked messages.</p>
        )}
      </section>

      <section class="panel" aria-labelledby="history">
        <h2 id="history">Corrections</h2>
        <History items={i.corrections} issue={i} />
      </section>

      {open?.what === "status" ? (
        <StatusDialog
          issue={i}
          status={open.status}
          onClose={close}
          onDone={(d) => done(`Status changed to ${humanize(d.status)}.`, d)}
        />
      ) : null}
      {open?.what === "assign" ? (
        <AssignDialog issue={i} onClose={close} onDone={(d) => done(`Assigned to ${d.owner ? personName(d.owner) : "nobody"}.`, d)} />
      ) : null}
      {open?.what === "merge" ? <MergeDialog issue={i} onClose={close} onDone={(d) => done(`Merged ticket #${i.id} into this one.`, d)} /> : null}
      {open?.what === "reclassify" ? (
        <ReclassifyDialog
          message={open.entry}
          opener={isOpener(open.entry, i)}
          onClose={close}
          onDone={(m) => done(`Message reclassified as ${KIND_LABELS[m.classification?.kind ?? m.kind ?? ""] ?? humanize(m.kind)}.`)}
        />
      ) : null}
      {open?.what === "move-message" ? (
        <MoveMessageDialog
          issue={i}
          entry={open.entry}
          opener={isOpener(open.entry, i)}
          initial={open.mode}
          onClose={close}
          onDone={() => done("Message moved.")}
        />
      ) : null}
      {open?.what === "move-evidence" ? (
        <MoveEvidenceDialog issue={i} ev={open.ev} onClose={close} onDone={() => done("Evidence moved.")} />
      ) : null}
    </div>
  );
}

/** The message that opened the ticket: the ticket's id is its opening message's id. */
function isOpener(t: TimelineEntry, i: Issue): boolean {
  return String(t.id) === String(i.id) || t.link_reason === "opened the record";
}

function Deadline({ at, breached, done }: { at: string | null | undefined; breached: boolean | null | undefined; done?: boolean }) {
  if (!at) return null;
  const overdue = !done && new Date(at).getTime() < Date.now();
  return (
    <span class="deadline">
      <time dateTime={isoAttr(at)}>{formatDateTime(at)}</time>{" "}
      {breached ? (
        <span class="badge badge-breach">Breached</span>
      ) : overdue ? (
        <span class="badge badge-breach">Overdue</span>
      ) : done ? (
        <span class="badge badge-met">Met</span>
      ) : (
        <span class="muted">({relative(at)})</span>
      )}
    </span>
  );
}

/** A small disclosure menu on each timeline message. */
function CorrectMenu({ onReclassify, onUnlink, onMove }: { onReclassify: () => void; onUnlink: () => void; onMove: () => void }) {
  const ref = useRef<HTMLDetailsElement>(null);
  const pick = (fn: () => void) => () => {
    if (ref.current) ref.current.open = false;
    fn();
  };
  return (
    <details class="menu" ref={ref}>
      <summary class="btn btn-small">Correct</summary>
      <div class="menu-list" role="group" aria-label="Correct this message">
        <button type="button" class="menu-item" onClick={pick(onReclassify)}>
          Reclassify…
        </button>
        <button type="button" class="menu-item" onClick={pick(onUnlink)}>
          Not part of this ticket…
        </button>
        <button type="button" class="menu-item" onClick={pick(onMove)}>
          Move to another ticket…
        </button>
      </div>
    </details>
  );
}

function Gallery({
  items,
  issue,
  manage,
  onMove,
  onDone,
}: {
  items: Evidence[];
  issue: Issue;
  manage: boolean;
  onMove: (ev: Evidence) => void;
  onDone: (msg: string) => void;
}) {
  return (
    <ul class="gallery">
      {items.map((e) => (
        <li key={String(e.id)}>
          <EvidenceItem item={e} />
          {e.link_reason ? <span class="gallery-reason">{e.link_reason}</span> : null}
          {manage ? <EvidenceButtons ev={e} issue={issue} onMove={onMove} onDone={onDone} /> : null}
        </li>
      ))}
    </ul>
  );
}

function EvidenceButtons({
  ev,
  issue,
  onMove,
  onDone,
}: {
  ev: Evidence;
  issue: Issue;
  onMove: (ev: Evidence) => void;
  onDone: (msg: string) => void;
}) {
  const act = useAction();
  const proof = ev.role === "resolution_proof";
  const set = async (record: { type: string; id: number } | null, role: string, msg: string) => {
    const r = await act.run(() =>
      api<unknown>(`/evidence/${encodeURIComponent(String(ev.id))}/record`, { method: "POST", body: { record, role, reason: null } }),
    );
    if (r !== undefined) onDone(msg);
  };
  const here = { type: "issue", id: Number(issue.id) };
  return (
    <div class="ev-actions">
      <button type="button" class="btn btn-small" onClick={() => onMove(ev)} disabled={act.busy}>
        Move
      </button>
      <button
        type="button"
        class="btn btn-small"
        disabled={act.busy}
        onClick={() => set(here, proof ? "evidence" : "resolution_proof", proof ? "Marked as evidence." : "Marked as resolution proof.")}
      >
        {proof ? "Not proof" : "Mark as proof"}
      </button>
      <button type="button" class="btn btn-small" disabled={act.busy} onClick={() => set(null, "evidence", "Unlinked from this ticket.")}>
        Not evidence
      </button>
      <ActionError error={act.error} />
    </div>
  );
}

function actorName(a: string): string {
  return a.replace(/^(user|token):/, "");
}

function describe(c: Correction, issue: Issue): string {
  const d = (c.data ?? {}) as Record<string, unknown>;
  if (c.target === "action") {
    const a = (d.action ?? {}) as Record<string, unknown>;
    switch (a.action) {
      case "set_status":
        return `Status → ${humanize(String(a.status ?? ""))}`;
      case "set_owner":
        return `Owner → ${String(a.person) === String(issue.owner?.id) && issue.owner ? personName(issue.owner) : `person #${String(a.person)}`}`;
      case "merge":
        return `Merged ticket #${String(a.from)} into #${String(a.into)}`;
      default:
        return humanize(String(a.action ?? "ticket change"));
    }
  }
  if (c.target === "message") {
    if (d.class && typeof d.class === "object") {
      const k = String((d.class as Record<string, unknown>).kind ?? "");
      return `Message #${String(c.target_id)} reclassified as ${KIND_LABELS[k] ?? humanize(k)}`;
    }
    const rec = ((d.record as Record<string, unknown> | undefined)?.record ?? null) as { type?: string; id?: unknown } | null;
    if (rec && String(rec.id) === String(issue.id)) return `Message #${String(c.target_id)} linked to this ticket`;
    if (rec) return `Message #${String(c.target_id)} moved to ${humanize(rec.type)} #${String(rec.id)}`;
    return `Message #${String(c.target_id)} unlinked`;
  }
  if (c.target === "evidence") {
    const rec = (d.record ?? null) as { type?: string; id?: unknown } | null;
    const role = d.role === "resolution_proof" ? "resolution proof" : "evidence";
    if (rec && String(rec.id) === String(issue.id)) return `Attachment #${String(c.target_id)} marked as ${role}`;
    if (rec) return `Attachment #${String(c.target_id)} moved to ${humanize(rec.type)} #${String(rec.id)}`;
    return `Attachment #${String(c.target_id)} unlinked`;
  }
  return humanize(c.target);
}

function History({ items, issue }: { items: Correction[] | null | undefined; issue: Issue }) {
  if (!items || items.length === 0) return <p class="muted">No manual corrections. Everything here was linked automatically.</p>;
  const sorted = [...items].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  return (
    <ol class="history">
      {sorted.map((c) => (
        <li key={String(c.id)} class="history-item">
          <span class="history-what">{describe(c, issue)}</span>
          <span class="history-meta">
            by <strong>{actorName(c.actor)}</strong>,{" "}
            <time dateTime={isoAttr(c.at)} title={formatDateTime(c.at)}>
              {formatDateTime(c.at)}
            </time>
          </span>
          {c.reason ? <span class="history-why">“{c.reason}”</span> : <span class="history-why muted">No reason given.</span>}
        </li>
      ))}
    </ol>
  );
}

function Fact({ label, children }: { label: string; children: preact.ComponentChildren }) {
  const empty = children === null || children === undefined || children === "";
  return (
    <div class="fact">
      <dt>{label}</dt>
      <dd>{empty ? <span class="muted">—</span> : children}</dd>
    </div>
  );
}

function BackLink() {
  return (
    <Link href="/issues" class="back-link">
      ← All issues
    </Link>
  );
}
