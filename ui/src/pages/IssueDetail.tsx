import { useRef, useState } from "preact/hooks";
import { api } from "../api";
import { can, useUser } from "../auth";
import { PriorityBadge, StatusBadge } from "../components/Badges";
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
import { History } from "./IssueHistory";
import { useDocumentTitle, useResource } from "../hooks";
import { Link, navigate } from "../router";
import type { Evidence, HistoryEntry, Issue, IssueDetail as IssueDetailData, TimelineEntry } from "../types";
import { SlaCell } from "./Issues";
import { t as tr } from "../i18n";

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
  const history = useResource<{ items: HistoryEntry[] }>(`/issues/${encodeURIComponent(id)}/timeline`);
  const user = useUser();
  const manage = can(user, "manage");
  const [open, setOpen] = useState<Open>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const i = res.data;
  const title = i ? i.title || humanize(i.category) || tr("Issue {id}", { id: i.id }) : tr("Issue");
  useDocumentTitle(title);

  if (res.error && (!i || res.error.status === 404)) {
    return (
      <div class="page">
        <BackLink />
        {res.error.status === 404 ? (
          <Empty title={i ? tr("This ticket no longer exists") : tr("This issue was not found")} icon="issue">
            {i
              ? tr("The message that opened it was moved or reclassified, so there is no ticket left. Its messages are still in the inbox.")
              : tr("It may have been merged into another ticket, or issue tickets are not available yet on this server.")}
          </Empty>
        ) : (
          <Problem error={res.error} what={tr("Issue")} onRetry={res.reload} />
        )}
      </div>
    );
  }
  if (!i) return <Loading label={tr("Loading issue…")} />;

  const close = () => setOpen(null);
  /** A write answered with the new ticket: show it, say what happened. */
  const done = (msg: string, d?: IssueDetailData) => {
    setOpen(null);
    setFlash(msg);
    history.reload();
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
          {tr("This ticket was merged into")}{" "}
          <Link href={`/issues/${encodeURIComponent(String(i.merged_into))}`}>{tr("ticket #")}{String(i.merged_into)}</Link>.
        </p>
      ) : null}

      {res.error ? (
        <p class="form-error" role="alert">
          {tr("Could not refresh the ticket:")}{" "}{res.error.message}
        </p>
      ) : null}

      <div class="visually-hidden" aria-live="polite">
        {flash ?? ""}
      </div>
      {flash ? (
        <p class="notice notice-ok" role="status" data-testid="flash">
          {flash}{" "}
          <button type="button" class="link-btn" onClick={() => setFlash(null)} aria-label={tr("Dismiss")}>
            <Icon name="close" size={14} />
          </button>
        </p>
      ) : null}

      {manage ? (
        <section class="action-bar" aria-label={tr("Ticket actions")}>
          {STATUS_ACTIONS.filter((a) => choices.includes(a.status)).map((a) => (
            <button
              key={a.status}
              type="button"
              class={`btn${a.status === choices[0] ? " btn-primary" : ""}`}
              data-action={a.status}
              onClick={() => setOpen({ what: "status", status: a.status })}
            >
              {a.label}
            </button>
          ))}
          <button type="button" class="btn" data-action="assign" onClick={() => setOpen({ what: "assign" })}>
            <Icon name="user" size={16} /> {i.owner ? tr("Reassign") : tr("Assign")}
          </button>
          {!i.merged_into && i.status !== "closed" ? (
            <button type="button" class="btn" data-action="merge" onClick={() => setOpen({ what: "merge" })}>
              {tr("Merge…")}
            </button>
          ) : null}
        </section>
      ) : null}

      <div class="detail-grid">
        <section class="panel" aria-labelledby="facts">
          <h2 id="facts" class="visually-hidden">
            {tr("Details")}
          </h2>
          <dl class="facts">
            <Fact label={tr("Ticket")}>#{String(i.id)}</Fact>
            <Fact label={tr("Category")}>{humanize(i.category)}</Fact>
            <Fact label={tr("Location")}>{formatLocation(i.location)}</Fact>
            <Fact label={tr("Site")}>{i.site?.name}</Fact>
            <Fact label={tr("Chat")}>{i.chat?.name}</Fact>
            <Fact label={tr("Reported by")}>{i.reported_by ? personName(i.reported_by) : null}</Fact>
            <Fact label={tr("Owner")}>
              <span data-testid="owner">{i.owner ? personName(i.owner as { name?: string | null; phone?: string | null }) : tr("Nobody yet")}</span>
            </Fact>
            <Fact label={tr("Opened")}>
              <time dateTime={isoAttr(i.opened_at)}>{formatDateTime(i.opened_at)}</time>
            </Fact>
            <Fact label={tr("Resolved")}>{i.resolved_at ? <time dateTime={isoAttr(i.resolved_at)}>{formatDateTime(i.resolved_at)}</time> : null}</Fact>
            {i.closed_at ? (
              <Fact label={tr("Closed")}>
                <time dateTime={isoAttr(i.closed_at)}>{formatDateTime(i.closed_at)}</time>
              </Fact>
            ) : null}
            <Fact label={tr("Respond by")}>
              <Deadline at={i.sla?.respond_by} breached={i.sla?.respond_breached} />
            </Fact>
            <Fact label={tr("Resolve by")}>
              <Deadline at={i.sla?.resolve_by} breached={i.sla?.resolve_breached} done={i.status === "resolved" || i.status === "closed"} />
            </Fact>
            <Fact label={tr("SLA")}>
              <SlaCell issue={i} />
            </Fact>
            {i.repeat_of ? (
              <Fact label={tr("Repeat of")}>
                <Link href={`/issues/${encodeURIComponent(String(i.repeat_of))}`}>{tr("earlier ticket #")}{String(i.repeat_of)} →</Link>
              </Fact>
            ) : null}
          </dl>
        </section>

        <section class="panel" aria-labelledby="gallery" data-photos="">
          <h2 id="gallery">{tr("Evidence")}</h2>
          {plain.length === 0 ? (
            <p class="muted">{tr("No photos or files linked as evidence.")}</p>
          ) : (
            <Gallery items={plain} issue={i} manage={manage} onMove={(ev) => setOpen({ what: "move-evidence", ev })} onDone={done} />
          )}
          <h2 class="h-proof">{tr("Resolution proof")}</h2>
          {proof.length === 0 ? (
            <p class="muted">{i.status === "resolved" || i.status === "closed" ? tr("Resolved without photo proof.") : tr("None yet.")}</p>
          ) : (
            <Gallery items={proof} issue={i} manage={manage} onMove={(ev) => setOpen({ what: "move-evidence", ev })} onDone={done} />
          )}
        </section>
      </div>

      <section class="panel" aria-labelledby="timeline">
        <h2 id="timeline">{tr("History")}</h2>
        <History
          issue={i}
          entries={history.data?.items ?? null}
          error={history.error}
          onRetry={history.reload}
          menu={
            manage
              ? (entry) => {
                  const t = (i.timeline ?? []).find((x) => String(x.id) === String(entry.message?.id));
                  return t ? (
                    <CorrectMenu
                      onReclassify={() => setOpen({ what: "reclassify", entry: t })}
                      onUnlink={() => setOpen({ what: "move-message", entry: t, mode: "none" })}
                      onMove={() => setOpen({ what: "move-message", entry: t, mode: "move" })}
                    />
                  ) : null;
                }
              : undefined
          }
        />
      </section>

      {open?.what === "status" ? (
        <StatusDialog
          issue={i}
          status={open.status}
          onClose={close}
          onDone={(d) => done(tr("Status changed to {v0}.", { v0: humanize(d.status) }), d)}
        />
      ) : null}
      {open?.what === "assign" ? (
        <AssignDialog issue={i} onClose={close} onDone={(d) => done(tr("Assigned to {v0}.", { v0: d.owner ? personName(d.owner) : "nobody" }), d)} />
      ) : null}
      {open?.what === "merge" ? <MergeDialog issue={i} onClose={close} onDone={(d) => done(tr("Merged ticket #{id} into this one.", { id: i.id }), d)} /> : null}
      {open?.what === "reclassify" ? (
        <ReclassifyDialog
          message={open.entry}
          opener={isOpener(open.entry, i)}
          onClose={close}
          onDone={(m) => done(tr("Message reclassified as {v0}.", { v0: KIND_LABELS[m.classification?.kind ?? m.kind ?? ""] ?? humanize(m.kind) }))}
        />
      ) : null}
      {open?.what === "move-message" ? (
        <MoveMessageDialog
          issue={i}
          entry={open.entry}
          opener={isOpener(open.entry, i)}
          initial={open.mode}
          onClose={close}
          onDone={() => done(tr("Message moved."))}
        />
      ) : null}
      {open?.what === "move-evidence" ? (
        <MoveEvidenceDialog issue={i} ev={open.ev} onClose={close} onDone={() => done(tr("Evidence moved."))} />
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
        <span class="badge badge-breach">{tr("Breached")}</span>
      ) : overdue ? (
        <span class="badge badge-breach">{tr("Overdue")}</span>
      ) : done ? (
        <span class="badge badge-met">{tr("Met")}</span>
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
      <summary class="btn btn-small">{tr("Correct")}</summary>
      <div class="menu-list" role="group" aria-label={tr("Correct this message")}>
        <button type="button" class="menu-item" onClick={pick(onReclassify)}>
          {tr("Reclassify…")}
        </button>
        <button type="button" class="menu-item" onClick={pick(onUnlink)}>
          {tr("Not part of this ticket…")}
        </button>
        <button type="button" class="menu-item" onClick={pick(onMove)}>
          {tr("Move to another ticket…")}
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
        <li key={String(e.id)} data-evidence={String(e.id)}>
          <EvidenceItem item={e} />
          {e.sender || e.sent_at ? (
            <span class="gallery-meta" data-testid="photo-meta">
              {tr("Sent by {who}", { who: personName(e.sender) })}
              {e.sent_at ? (
                <>
                  {" · "}
                  <time dateTime={isoAttr(e.sent_at)}>{formatDateTime(e.sent_at)}</time>
                </>
              ) : null}
            </span>
          ) : null}
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
        {tr("Move")}
      </button>
      <button
        type="button"
        class="btn btn-small"
        disabled={act.busy}
        onClick={() => set(here, proof ? "evidence" : "resolution_proof", proof ? tr("Marked as evidence.") : tr("Marked as resolution proof."))}
      >
        {proof ? tr("Not proof") : tr("Mark as proof")}
      </button>
      <button type="button" class="btn btn-small" disabled={act.busy} onClick={() => set(null, "evidence", "Unlinked from this ticket.")}>
        {tr("Not evidence")}
      </button>
      <ActionError error={act.error} />
    </div>
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
      {tr("← All issues")}
    </Link>
  );
}
