import { useEffect, useRef, useState } from "preact/hooks";
import { api, evidenceUrl } from "../api";
import { formatBytes, formatDateTime, humanize, personName } from "../format";
import type { Evidence } from "../types";
import { Icon } from "./Icon";
import { openLightbox } from "./Lightbox";
import { t } from "../i18n";

// Evidence records by id, shared by every message on screen. Pending ones are re-asked a few times.
const cache = new Map<string, Promise<Evidence>>();

function fetchEvidence(id: string): Promise<Evidence> {
  let p = cache.get(id);
  if (!p) {
    p = api<Evidence>(`/evidence/${encodeURIComponent(id)}`);
    cache.set(id, p);
    p.catch(() => cache.delete(id));
  }
  return p;
}

type Item = string | number | Evidence;

/** Becomes true once the element is within ~2 screens of the viewport (then stays true). */
function useNearViewport<T extends Element>(): [preact.RefObject<T>, boolean] {
  const ref = useRef<T>(null);
  const [near, setNear] = useState(typeof IntersectionObserver === "undefined");
  useEffect(() => {
    if (near || !ref.current) return;
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setNear(true);
          io.disconnect();
        }
      },
      { rootMargin: "800px 0px" },
    );
    io.observe(ref.current);
    return () => io.disconnect();
  }, [near]);
  return [ref, near];
}

function useEvidence(item: Item, active: boolean): { ev: Evidence | null; failed: boolean } {
  const given = typeof item === "object" && item !== null ? item : null;
  const id = given ? String(given.id) : String(item);
  const [ev, setEv] = useState<Evidence | null>(given && given.kind ? given : null);
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    if (given && given.kind && given.status !== "pending") {
      setEv(given);
      return;
    }
    if (!active) return;
    let live = true;
    let tries = 0;
    let timer: number | undefined;
    const load = () => {
      fetchEvidence(id)
        .then((e) => {
          if (!live) return;
          setEv(e);
          if (e.status === "pending" && tries++ < 12) {
            timer = window.setTimeout(() => {
              cache.delete(id);
              load();
            }, 5000);
          }
        })
        .catch(() => live && setFailed(true));
    };
    load();
    return () => {
      live = false;
      if (timer) window.clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, active]);

  return { ev, failed };
}

function isVisual(kind: string): boolean {
  return kind === "photo" || kind === "sticker" || kind === "image";
}

/** One piece of evidence: a photo thumbnail (click → full size) or a chip for voice, video and documents. */
export function EvidenceItem({ item, context }: { item: Item; context?: string }) {
  const [ref, near] = useNearViewport<HTMLSpanElement>();
  const { ev, failed } = useEvidence(item, near);
  const [imgFailed, setImgFailed] = useState(false);
  const [playing, setPlaying] = useState(false);
  const id = typeof item === "object" && item !== null ? item.id : item;

  if (failed && !ev) {
    // The JSON is not there (older server?): still try the thumbnail, the file link always works.
    return <PhotoThumb id={id} alt={context ? t("Attachment from {context}", { context }) : t("Attachment")} caption={context} />;
  }
  if (!ev) return <span ref={ref} class="thumb thumb-placeholder" role="img" aria-label={t("Loading attachment")} />;

  const status = ev.status ?? "ready";
  const label = ev.kind === "voice" ? t("Voice note") : humanize(ev.kind);
  const dup = ev.duplicate_of !== null && ev.duplicate_of !== undefined;

  if (status === "pending" || status === "failed" || status === "missing_from_export") {
    const text =
      status === "pending" ? t("{label} downloading…", { label }) : status === "failed" ? t("{label} could not be downloaded", { label }) : t("{label} not in the export", { label });
    return (
      <span class={`chip chip-muted chip-${status}`} title={ev.filename ?? undefined}>
        <Icon name={isVisual(ev.kind) ? "photo" : "doc"} size={16} />
        {text}
      </span>
    );
  }

  if (isVisual(ev.kind) && !imgFailed) {
    const from = ev.sender ? personName(ev.sender) : context;
    const sent = [from ? t("Sent by {who}", { who: from }) : "", ev.sent_at ? formatDateTime(ev.sent_at) : ""].filter(Boolean).join(" · ");
    return (
      <PhotoThumb
        id={ev.id}
        alt={`${label}${from ? ` from ${from}` : ""}${ev.filename ? ` (${ev.filename})` : ""}`}
        caption={sent || ev.filename || context}
        duplicate={dup}
        onFail={() => setImgFailed(true)}
      />
    );
  }

  if ((ev.kind === "voice" || ev.kind === "audio") && playing) {
    return <audio class="chip-audio" controls autoPlay preload="none" src={evidenceUrl.file(ev.id)} aria-label={label} />;
  }
  if (ev.kind === "voice" || ev.kind === "audio") {
    return (
      <button type="button" class="chip chip-voice" onClick={() => setPlaying(true)}>
        <Icon name="voice" size={16} />{" "}{t("Play")}{" "}{label.toLowerCase()}
        {ev.bytes ? <span class="chip-meta">{formatBytes(ev.bytes)}</span> : null}
      </button>
    );
  }
  const icon = ev.kind === "video" ? "video" : ev.kind === "document" ? "doc" : isVisual(ev.kind) ? "photo" : "doc";
  return (
    <a class={`chip chip-${ev.kind}`} href={evidenceUrl.file(ev.id)} target="_blank" rel="noopener">
      <Icon name={icon} size={16} />
      <span class="chip-name">{ev.filename || label}</span>
      {ev.bytes ? <span class="chip-meta">{formatBytes(ev.bytes)}</span> : null}
      {dup ? <span class="chip-meta chip-warn">{t("seen before")}</span> : null}
    </a>
  );
}

function PhotoThumb({
  id,
  alt,
  caption,
  duplicate,
  onFail,
}: {
  id: string | number;
  alt: string;
  caption?: string;
  duplicate?: boolean;
  onFail?: () => void;
}) {
  const full = evidenceUrl.file(id);
  return (
    <a
      class={`thumb${duplicate ? " thumb-dup" : ""}`}
      href={full}
      target="_blank"
      rel="noopener"
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        // Next / previous: the other photos of the same group on the page (a gallery, a message's attachments).
        const group = e.currentTarget.closest("[data-photos]") ?? e.currentTarget.parentElement;
        const links = group ? Array.from(group.querySelectorAll<HTMLAnchorElement>("a.thumb")) : [];
        const shots = links.map((a) => ({ src: a.getAttribute("href") ?? "", alt: a.querySelector("img")?.alt ?? "", caption: a.dataset.caption }));
        openLightbox({ src: full, alt, caption }, shots.length > 1 ? shots : undefined);
      }}
      title={duplicate ? t("Same picture as an earlier photo") : alt}
      data-caption={caption}
    >
      <img class="thumb-img" src={evidenceUrl.thumbnail(id)} alt={alt} loading="lazy" decoding="async" onError={onFail} />
      {duplicate ? <span class="thumb-flag">{t("Seen before")}</span> : null}
    </a>
  );
}

export function EvidenceStrip({ items, context }: { items: Item[] | null | undefined; context?: string }) {
  if (!items || items.length === 0) return null;
  return (
    <div class="evidence-strip">
      {items.map((it) => (
        <EvidenceItem key={typeof it === "object" && it !== null ? String(it.id) : String(it)} item={it} context={context} />
      ))}
    </div>
  );
}
