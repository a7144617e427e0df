import { useEffect } from "preact/hooks";
import { can, useUser } from "../auth";
import { PageHeader } from "../components/Layout";
import { Empty, Loading, Problem } from "../components/States";
import { formatDateTime, isoAttr, relative } from "../format";
import { useDocumentTitle, useResource } from "../hooks";
import { Link } from "../router";
import type { Backlog, Dashboard as DashboardData } from "../types";
import { IssueCards } from "./Issues";

interface Tile {
  label: string;
  value: number | undefined;
  href?: string;
  tone?: "alert" | "warn" | "ok" | "plain";
  hint: string;
}

export function Dashboard() {
  useDocumentTitle("Dashboard");
  const user = useUser();
  const dash = useResource<DashboardData>("/dashboard");
  const d = dash.data;
  const catchingUp = (d?.backlog?.deliveries_waiting ?? 0) > 0;
  // Keep the numbers fresh while the dashboard stays open (e.g. on a wall screen); every few seconds while a backlog
  // is being filed, so the banner counts down.
  useEffect(() => {
    const t = window.setInterval(
      () => {
        if (document.visibilityState === "visible") dash.reload();
      },
      catchingUp ? 3_000 : 60_000,
    );
    return () => window.clearInterval(t);
  }, [dash.reload, catchingUp]);

  const raw: Tile[] = d
    ? [
        { label: "Messages today", value: d.messages_today, href: can(user, "messages") ? "/inbox" : undefined, hint: "from all groups" },
        { label: "Open issues", value: d.open_issues, href: "/issues?status=open", tone: "plain", hint: "not yet resolved" },
        {
          label: "Overdue issues",
          value: d.overdue_issues,
          href: "/issues?breached=true",
          tone: (d.overdue_issues ?? 0) > 0 ? "alert" : "ok",
          hint: "past their SLA",
        },
        {
          label: "Tasks done today",
          value: d.tasks_done_today,
          href: "/tasks?status=done",
          tone: "ok",
          hint: typeof d.tasks_today === "number" ? `of ${d.tasks_today.toLocaleString()} reported today` : "reported done",
        },
        {
          label: "Media pending",
          value: d.media_pending,
          tone: (d.media_pending ?? 0) > 0 ? "warn" : "plain",
          hint: "photos still downloading",
        },
        ...(typeof d.media_failed === "number" && d.media_failed > 0
          ? [{ label: "Media failed", value: d.media_failed, tone: "alert", hint: "could not be downloaded" } as Tile]
          : []),
      ]
    : [];
  const tiles: Tile[] = raw.map((t) =>
    typeof t.value === "number" ? t : { ...t, tone: "plain", href: undefined, hint: "not available yet" },
  );

  return (
    <div class="page page-dashboard">
      <PageHeader title="Dashboard" sub={`Hello ${user?.name ?? ""}. Here is today at a glance.`} />
      {dash.error && !d ? (
        <Problem error={dash.error} what="Dashboard" onRetry={dash.reload} />
      ) : !d ? (
        <Loading />
      ) : (
        <>
          {d.backlog && d.backlog.deliveries_waiting > 0 ? <CatchingUp backlog={d.backlog} /> : null}
          <ul class="tiles" aria-label="Today">
            {tiles.map((t) => {
              const body = (
                <>
                  <span class="tile-value">{typeof t.value === "number" ? t.value.toLocaleString() : "—"}</span>
                  <span class="tile-label">{t.label}</span>
                  <span class="tile-hint">{t.hint}</span>
                </>
              );
              return (
                <li key={t.label} class={`tile tile-${t.tone ?? "plain"}`}>
                  {t.href ? (
                    <Link href={t.href} class="tile-link">
                      {body}
                    </Link>
                  ) : (
                    <div class="tile-link">{body}</div>
                  )}
                </li>
              );
            })}
          </ul>

          <div class="dash-grid">
            <section class="panel" aria-labelledby="recent-issues">
              <div class="panel-head">
                <h2 id="recent-issues">Recent open issues</h2>
                <Link href="/issues">All issues →</Link>
              </div>
              {d.recent_issues === undefined || d.recent_issues === null ? (
                <Empty title="Issue tickets — not available yet" icon="clock">
                  They will appear here once this server turns reports into tickets.
                </Empty>
              ) : d.recent_issues.length > 0 ? (
                <IssueCards items={d.recent_issues} />
              ) : (
                <Empty title="No open issues" icon="task">
                  Nothing is waiting for action.
                </Empty>
              )}
            </section>

            <section class="panel" aria-labelledby="chat-activity">
              <div class="panel-head">
                <h2 id="chat-activity">Chats</h2>
                {can(user, "messages") ? <Link href="/inbox">Inbox →</Link> : null}
              </div>
              {d.chats && d.chats.length > 0 ? (
                <ul class="chat-list">
                  {d.chats.map((c) => {
                    const stale = c.last_message_at ? Date.now() - new Date(c.last_message_at).getTime() > 24 * 3600_000 : true;
                    return (
                      <li key={String(c.id)} class="chat-row">
                        {can(user, "messages") ? (
                          <Link href={`/inbox?chat=${encodeURIComponent(String(c.id))}`} class="chat-name">
                            {c.name ?? String(c.id)}
                          </Link>
                        ) : (
                          <span class="chat-name">{c.name ?? String(c.id)}</span>
                        )}
                        <span class="chat-count">
                          {typeof c.messages === "number" ? `${c.messages.toLocaleString()} msg` : ""}
                        </span>
                        <time
                          class={`chat-last${stale ? " chat-stale" : ""}`}
                          dateTime={isoAttr(c.last_message_at)}
                          title={formatDateTime(c.last_message_at)}
                        >
                          {c.last_message_at ? relative(c.last_message_at) : "no messages"}
                        </time>
                      </li>
                    );
                  })}
                </ul>
              ) : (
                <Empty title="No chats yet" icon="chat">
                  Connect a WhatsApp group or import a chat export.
                </Empty>
              )}
            </section>
          </div>
        </>
      )}
    </div>
  );
}

/** "about 7 s" / "about 3 min" / "about 2 h" for a countdown. */
function aboutTime(seconds: number): string {
  if (seconds < 90) return `about ${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 90 * 60) return `about ${Math.round(seconds / 60)} min`;
  return `about ${Math.round(seconds / 3600)} h`;
}

/** After a burst, the messages are acknowledged and stored at once but filed into records a little later: say so. */
function CatchingUp({ backlog }: { backlog: Backlog }) {
  const n = backlog.deliveries_waiting;
  const rate = backlog.filing_per_second ?? 0;
  const left = backlog.seconds_left;
  const pace = rate > 0 ? ` (${Math.round(rate).toLocaleString()} a second${typeof left === "number" ? `, ${aboutTime(left)} left` : ""})` : "";
  return (
    <p class="notice notice-warn catching-up" role="status" data-testid="backlog">
      <strong>
        {`Catching up: ${n.toLocaleString()} ${n === 1 ? "update" : "updates"} from WhatsApp received in a burst ${n === 1 ? "is" : "are"} being filed${pace}.`}
      </strong>{" "}
      They are stored safely; the numbers, tickets, tasks and search below fill in as they are filed.
    </p>
  );
}
