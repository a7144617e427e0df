import { Fragment } from "preact";
import { formatLocation, formatTime, humanize, isoAttr, KIND_LABELS, personName } from "../format";
import { Link } from "../router";
import type { Classification, Message } from "../types";
import { KindBadge, Tag } from "./Badges";
import { EvidenceStrip } from "./EvidenceView";
import { t } from "../i18n";

/** Server snippets mark the match between « and »; render as text nodes and <mark>, never as HTML. */
export function Snippet({ text }: { text: string }) {
  const parts: Array<{ t: string; hit: boolean }> = [];
  let buf = "";
  let hit = false;
  for (const ch of text) {
    if (ch === "«" && !hit) {
      if (buf) parts.push({ t: buf, hit });
      buf = "";
      hit = true;
    } else if (ch === "»" && hit) {
      if (buf) parts.push({ t: buf, hit });
      buf = "";
      hit = false;
    } else buf += ch;
  }
  if (buf) parts.push({ t: buf, hit });
  return (
    <Fragment>
      {parts.map((p, i) => (p.hit ? <mark key={i}>{p.t}</mark> : <Fragment key={i}>{p.t}</Fragment>))}
    </Fragment>
  );
}

function Why({ c }: { c: Classification }) {
  const label = KIND_LABELS[c.kind] ?? humanize(c.kind);
  const loc = formatLocation(c.location);
  const conf = typeof c.confidence === "number" ? Math.round(c.confidence * 100) : null;
  return (
    <details class="why">
      <summary>{t("Why “")}{label}”?</summary>
      <dl class="why-fields">
        {conf !== null ? (
          <>
            <dt>{t("Confidence")}</dt>
            <dd>
              <span class="meter" aria-hidden="true">
                <span style={{ width: `${conf}%` }} />
              </span>{" "}
              {conf}%
            </dd>
          </>
        ) : null}
        {c.category ? (
          <>
            <dt>{t("Category")}</dt>
            <dd>{humanize(c.category)}</dd>
          </>
        ) : null}
        {loc ? (
          <>
            <dt>{t("Location")}</dt>
            <dd>{loc}</dd>
          </>
        ) : null}
        {c.status ? (
          <>
            <dt>{t("Status")}</dt>
            <dd>{humanize(c.status)}</dd>
          </>
        ) : null}
        {c.priority ? (
          <>
            <dt>{t("Priority")}</dt>
            <dd>{humanize(c.priority)}</dd>
          </>
        ) : null}
        {c.repeat ? (
          <>
            <dt>{t("Repeat")}</dt>
            <dd>{t("Says it happened before")}</dd>
          </>
        ) : null}
      </dl>
      {c.cues && c.cues.length > 0 ? (
        <>
          <p class="why-title">{t("Cues that decided")}</p>
          <ul class="why-cues">
            {c.cues.map((cue, i) => (
              <li key={i}>{cue}</li>
            ))}
          </ul>
        </>
      ) : (
        <p class="why-title">{t("No cues recorded.")}</p>
      )}
    </details>
  );
}

export function MessageCard({
  m,
  onChat,
  onPerson,
  onCorrect,
}: {
  m: Message;
  onChat?: (m: Message) => void;
  onPerson?: (m: Message) => void;
  /** Shown to managers: opens the "Correct classification" form. */
  onCorrect?: (m: Message) => void;
}) {
  const kind = m.classification?.kind ?? m.kind ?? null;
  const who = personName(m.sender);
  const chatName = m.chat?.name ?? t("Unknown chat");
  const hasText = typeof m.text === "string" && m.text.length > 0;

  if (m.type === "system") {
    return (
      <article class="msg msg-system" data-id={String(m.id)}>
        <p class="msg-text">{m.text ?? t("System message")}</p>
        <p class="msg-system-meta">
          {chatName} · <time dateTime={isoAttr(m.sent_at)}>{formatTime(m.sent_at)}</time>
        </p>
      </article>
    );
  }

  return (
    <article class={`msg${m.deleted ? " msg-deleted" : ""}`} data-id={String(m.id)} data-kind={kind ?? ""}>
      <header class="msg-head">
        <span class="msg-who">
          {onPerson && m.sender ? (
            <button type="button" class="link-btn msg-sender" onClick={() => onPerson(m)} title={t("Show only messages from {who}", { who })}>
              {who}
            </button>
          ) : (
            <strong class="msg-sender">{who}</strong>
          )}
          <span class="msg-in" aria-hidden="true">
            {" "}
            {t("in")}{" "}
          </span>
          {onChat && m.chat ? (
            <button type="button" class="link-btn msg-chat" onClick={() => onChat(m)} title={t("Show only {chatName}", { chatName })}>
              {chatName}
            </button>
          ) : (
            <span class="msg-chat">{chatName}</span>
          )}
        </span>
        <time class="msg-time" dateTime={isoAttr(m.sent_at)}>
          {formatTime(m.sent_at)}
        </time>
      </header>

      <div class="msg-tags">
        {kind ? <KindBadge kind={kind} /> : null}
        {m.classification?.category ? <Tag>{humanize(m.classification.category)}</Tag> : null}
        {m.classification?.priority && kind === "issue_report" ? (
          <Tag tone={m.classification.priority}>{humanize(m.classification.priority)}</Tag>
        ) : null}
        {formatLocation(m.classification?.location) ? <Tag tone="loc">{formatLocation(m.classification?.location)}</Tag> : null}
        {m.text_source === "voice_note" ? <Tag>{t("Voice note")}</Tag> : null}
        {m.edited ? <Tag tone="flag">{t("Edited")}</Tag> : null}
        {m.deleted ? <Tag tone="warn">{t("Deleted")}</Tag> : null}
        {m.record ? (
          m.record.type === "issue" ? (
            <Link class="record-link" href={`/issues/${encodeURIComponent(String(m.record.id))}`}>
              {t("Issue ticket →")}
            </Link>
          ) : (
            <Link class="record-link" href="/tasks">
              {humanize(m.record.type)}{" "}{t("log →")}
            </Link>
          )
        ) : null}
      </div>

      {m.snippet ? (
        <p class="msg-text msg-snippet">
          <Snippet text={m.snippet} />
        </p>
      ) : hasText ? (
        <p class="msg-text">{m.text}</p>
      ) : m.transcript?.status === "done" && m.transcript.text ? (
        <p class="msg-text msg-transcript" title={t("Transcribed from the voice note")}>
          “{m.transcript.text}”
        </p>
      ) : m.transcript?.status === "pending" ? (
        <p class="msg-text msg-muted">{t("Transcribing the voice note…")}</p>
      ) : m.transcript?.status === "failed" ? (
        <p class="msg-text msg-muted">{t("The voice note could not be transcribed.")}</p>
      ) : m.deleted ? (
        <p class="msg-text msg-muted">{t("This message was deleted.")}</p>
      ) : m.type === "reaction" ? (
        <p class="msg-text msg-muted">{t("Reacted to a message.")}</p>
      ) : m.type === "location" ? (
        <p class="msg-text msg-muted">{t("Shared a location.")}</p>
      ) : m.type === "contact" ? (
        <p class="msg-text msg-muted">{t("Shared a contact.")}</p>
      ) : !m.media || m.media.length === 0 ? (
        <p class="msg-text msg-muted">{m.type === "other" ? t("Unsupported message type.") : t("No text.")}</p>
      ) : null}

      {m.snippet && hasText && m.text !== m.snippet.replace(/[«»]/g, "") ? (
        <details class="full-text">
          <summary>{t("Whole message")}</summary>
          <p class="msg-text">{m.text}</p>
        </details>
      ) : null}

      <EvidenceStrip items={m.evidence && m.evidence.length > 0 ? m.evidence : m.media} context={who} />

      {m.classification || onCorrect ? (
        <div class="msg-foot">
          {m.classification ? <Why c={m.classification} /> : <span />}
          {onCorrect ? (
            <button type="button" class="btn btn-small msg-correct" onClick={() => onCorrect(m)}>
              {t("Correct classification")}
            </button>
          ) : null}
        </div>
      ) : null}
    </article>
  );
}
