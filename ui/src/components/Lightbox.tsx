import { useEffect, useRef, useState } from "preact/hooks";
import { Icon } from "./Icon";
import { t } from "../i18n";

interface Shot {
  src: string;
  alt: string;
  caption?: string;
}

let current: Shot | null = null;
const subs = new Set<(s: Shot | null) => void>();

export function openLightbox(s: Shot): void {
  current = s;
  for (const f of subs) f(current);
}

export function closeLightbox(): void {
  current = null;
  for (const f of subs) f(null);
}

/** Full-size photo over the page; Esc or the close button returns focus to where it was. */
export function Lightbox() {
  const [shot, setShot] = useState<Shot | null>(current);
  const [failed, setFailed] = useState(false);
  const closeRef = useRef<HTMLButtonElement>(null);
  const returnFocus = useRef<Element | null>(null);

  useEffect(() => {
    const f = (s: Shot | null) => {
      if (s) returnFocus.current = document.activeElement;
      setFailed(false);
      setShot(s);
    };
    subs.add(f);
    return () => {
      subs.delete(f);
    };
  }, []);

  useEffect(() => {
    if (!shot) return;
    closeRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") closeLightbox();
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
      if (el && typeof el.focus === "function") el.focus();
    };
  }, [shot]);

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
        <span class="lightbox-caption">{shot.caption ?? shot.alt}</span>
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
        <img class="lightbox-img" src={shot.src} alt={shot.alt} onError={() => setFailed(true)} />
      )}
    </div>
  );
}
