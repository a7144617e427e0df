import { KindBadge, PriorityBadge, StatusBadge } from "../components/Badges";
import { EvidenceItem } from "../components/EvidenceView";
import { PageHeader } from "../components/Layout";
import { Empty, Loading, Problem } from "../components/States";
import { formatDateTime, formatLocation, humanize, isoAttr, personName } from "../format";
import { useDocumentTitle, useResource } from "../hooks";
import { Link } from "../router";
import type { Evidence, IssueDetail as IssueDetailData } from "../types";
import { SlaCell } from "./Issues";

export function IssueDetail({ id }: { id: string }) {
  const res = useResource<IssueDetailData>(`/issues/${encodeURIComponent(id)}`);
  const i = res.data;
  const title = i ? i.title || humanize(i.category) || `Issue ${i.id}` : "Issue";
  useDocumentTitle(title);

  if (res.error) {
    return (
      <div class="page">
        <BackLink />
        {res.error.status === 404 ? (
          <Empty title="This issue was not found" icon="issue">
            It may have been merged into another ticket, or issue tickets are not available yet on this server.
          </Empty>
        ) : (
          <Problem error={res.error} what="Issue" onRetry={res.reload} />
        )}
      </div>
    );
  }
  if (!i) return <Loading label="Loading issue…" />;

  const evidence = (i.evidence ?? []) as Evidence[];
  const proof = evidence.filter((e) => e.role === "resolution_proof");
  const plain = evidence.filter((e) => e.role !== "resolution_proof");

  return (
    <div class="page page-issue">
      <BackLink />
      <PageHeader title={title}>
        <StatusBadge status={i.status} />
        <PriorityBadge priority={i.priority} />
      </PageHeader>

      <div class="detail-grid">
        <section class="panel" aria-labelledby="facts">
          <h2 id="facts" class="visually-hidden">
            Details
          </h2>
          <dl class="facts">
            <Fact label="Category">{humanize(i.category)}</Fact>
            <Fact label="Location">{formatLocation(i.location)}</Fact>
            <Fact label="Site">{i.site?.name}</Fact>
            <Fact label="Chat">{i.chat?.name}</Fact>
            <Fact label="Reported by">{i.reported_by ? personName(i.reported_by) : null}</Fact>
            <Fact label="Owner">{i.owner ? personName(i.owner as { name?: string | null; phone?: string | null }) : "Nobody yet"}</Fact>
            <Fact label="Opened">
              <time dateTime={isoAttr(i.opened_at)}>{formatDateTime(i.opened_at)}</time>
            </Fact>
            <Fact label="Resolved">{i.resolved_at ? <time dateTime={isoAttr(i.resolved_at)}>{formatDateTime(i.resolved_at)}</time> : null}</Fact>
            <Fact label="Respond by">{i.sla?.respond_by ? formatDateTime(i.sla.respond_by) : null}</Fact>
            <Fact label="Resolve by">{i.sla?.resolve_by ? formatDateTime(i.sla.resolve_by) : null}</Fact>
            <Fact label="SLA">
              <SlaCell issue={i} />
            </Fact>
            {i.repeat_of ? (
              <Fact label="Repeat of">
                <Link href={`/issues/${encodeURIComponent(String(i.repeat_of))}`}>earlier ticket →</Link>
              </Fact>
            ) : null}
          </dl>
        </section>

        <section class="panel" aria-labelledby="gallery">
          <h2 id="gallery">Evidence</h2>
          {plain.length === 0 ? (
            <p class="muted">No photos or files linked as evidence.</p>
          ) : (
            <Gallery items={plain} />
          )}
          <h2 class="h-proof">Resolution proof</h2>
          {proof.length === 0 ? (
            <p class="muted">{i.status === "resolved" || i.status === "closed" ? "Resolved without photo proof." : "None yet."}</p>
          ) : (
            <Gallery items={proof} />
          )}
        </section>
      </div>

      <section class="panel" aria-labelledby="timeline">
        <h2 id="timeline">Timeline</h2>
        {i.timeline && i.timeline.length > 0 ? (
          <ol class="timeline">
            {i.timeline.map((t) => (
              <li key={String(t.id)} class="tl-item">
                <div class="tl-head">
                  <strong>{personName(t.sender)}</strong>
                  <KindBadge kind={t.kind} />
                  <time class="tl-time" dateTime={isoAttr(t.sent_at)}>
                    {formatDateTime(t.sent_at)}
                  </time>
                </div>
                {t.text ? <p class="msg-text">{t.text}</p> : <p class="msg-text msg-muted">No text.</p>}
                {t.link_reason ? <p class="tl-reason">Linked because: {humanize(t.link_reason)}</p> : null}
              </li>
            ))}
          </ol>
        ) : (
          <p class="muted">No linked messages.</p>
        )}
      </section>
    </div>
  );
}

function Gallery({ items }: { items: Evidence[] }) {
  return (
    <ul class="gallery">
      {items.map((e) => (
        <li key={String(e.id)}>
          <EvidenceItem item={e} />
          {e.link_reason ? <span class="gallery-reason">{humanize(e.link_reason)}</span> : null}
        </li>
      ))}
    </ul>
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
