import { useEffect, useRef, useState } from "preact/hooks";
import { Icon } from "./Icon";
import { t } from "../i18n";

interface Shot {
  src: string;
  alt: string;
  caption?: string;
}

interface Showing {
  shots: Shot[];
  index: number;
}

let current: Showing | null = null;
const subs = new Set<(s: Showing | null) => void>();

/** Shows `s` full size; with `group` (the photos it belongs with, `s` among them) next / previous step through them. */
export function openLightbox(s: Shot, group?: Shot[]): void {
  const shots = group && group.length > 1 ? group : [s];
  const index = Math.max(0, shots.findIndex((x) => x.src === s.src));
  current = { shots, index };
  for (const f of subs) f(current);
}

export function closeLightbox(): void {
  current = null;
  for (const f of subs) f(null);
}

function step(delta: number): void {
  if (!current || current.shots.length < 2) return;
  const n = current.shots.length;
  current = { shots: current.shots, index: (current.index + delta + n) % n };
  for (const f of subs) f(current);
}

/** Full-size photo over the page; Esc or the close button returns focus to where it was. */
export function Lightbox() {
  const [showing, setShowing] = useState<Showing | null>(current);
  const shot = showing ? showing.shots[showing.index] : null;
  const many = !!showing && showing.shots.length > 1;
  const [failed, setFailed] = useState(false);
  const closeRef = useRef<HTMLButtonElement>(null);
  const returnFocus = useRef<Element | null>(null);

  useEffect(() => {
    const f = (s: Showing | null) => {
      if (s && !returnFocus.current) returnFocus.current = document.activeElement;
      setFailed(false);
      setShowing(s);
    };
    subs.add(f);
    return () => {
      subs.delete(f);
    };
  }, []);

  const open = showing !== null;
  useEffect(() => {
    if (!open) return;
    closeRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") closeLightbox();
      if (e.key === "ArrowRight") step(1);
      if (e.key === "ArrowLeft") step(-1);
      if (e.key === "Tab") {
        // keep focus inside the two controls
        const els = Array.from(document.querySelectorAll<HTMLElement>(".lightbox a, .lightbox button"));
        if (els.length === 0) return;
        const i = els.indexOf(document.activeElement as HTMLElement);
        const next = e.shiftKey ? (i <= 0 ? els.length - 1 : i - 1) : (i + 1) % els.length;
        els[next].focus();
        e.preventDefault();
      }
    };
    document.addEventListener("keydown", onKey);
    document.body.classList.add("no-scroll");
    return () => {
      document.removeEventListener("keydown", onKey);
      document.body.classList.remove("no-scroll");
      const el = returnFocus.current as HTMLElement | null;
      returnFocus.current = null;
      if (el && typeof el.focus === "function") el.focus();
    };
  }, [open]);

  if (!shot) return null;
  return (
    <div
      class="lightbox"
      role="dialog"
      aria-modal="true"
      aria-label={shot.alt}
      onClick={(e) => {
        if (e.target === e.currentTarget) closeLightbox();
      }}
    >
      <div class="lightbox-bar">
        <span class="lightbox-caption">
          {many && showing ? <span class="lightbox-count" data-testid="lightbox-count">{t("{a} of {b}", { a: showing.index + 1, b: showing.shots.length })} · </span> : null}
          {shot.caption ?? shot.alt}
        </span>
        {many ? (
          <>
            <button type="button" class="btn btn-ghost-dark" data-action="previous" onClick={() => step(-1)} aria-label={t("Previous photo")}>
              ‹
            </button>
            <button type="button" class="btn btn-ghost-dark" data-action="next" onClick={() => step(1)} aria-label={t("Next photo")}>
              ›
            </button>
          </>
        ) : null}
        <a class="btn btn-ghost-dark" href={shot.src} target="_blank" rel="noopener">
          <Icon name="external" size={16} />{" "}{t("Original")}
        </a>
        <button ref={closeRef} type="button" class="btn btn-ghost-dark" onClick={closeLightbox} aria-label={t("Close photo")}>
          <Icon name="close" size={18} />
        </button>
      </div>
      {failed ? (
        <p class="lightbox-error">{t("The full photo could not be loaded.")}</p>
      ) : (
        <img key={shot.src} class="lightbox-img" src={shot.src} alt={shot.alt} onError={() => setFailed(true)} />
      )}
    </div>
  );
}
