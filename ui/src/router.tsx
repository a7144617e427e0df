// A tiny history-API router: the server falls back to index.html for unknown GET paths.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";

type Listener = () => void;
const listeners = new Set<Listener>();

function emit(): void {
  for (const l of listeners) l();
}

window.addEventListener("popstate", emit);

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const current = location.pathname + location.search;
  if (to === current) return;
  if (opts.replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  if (!opts.replace) window.scrollTo(0, 0);
  emit();
}

/** Re-renders on every navigation; returns the current path and query. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return { path: location.pathname, search: new URLSearchParams(location.search) };
}

/** Replace some query parameters of the current URL (empty values are removed). */
export function setQuery(changes: Record<string, string | null | undefined>, opts: { replace?: boolean } = {}): void {
  const p = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === "") p.delete(k);
    else p.set(k, v);
  }
  const s = p.toString();
  navigate(location.pathname + (s ? `?${s}` : ""), { replace: opts.replace ?? true });
}

export interface Match {
  params: Record<string, string>;
}

/** Match "/issues/:id" style patterns against a path. */
export function matchPath(pattern: string, path: string): Match | null {
  const pp = pattern.split("/").filter(Boolean);
  const xs = path.replace(/\/+$/, "").split("/").filter(Boolean);
  if (pp.length !== xs.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pp.length; i++) {
    const seg = pp[i];
    if (seg.startsWith(":")) {
      try {
        params[seg.slice(1)] = decodeURIComponent(xs[i]);
      } catch {
        return null;
      }
    } else if (seg !== xs[i]) return null;
  }
  return { params };
}

type LinkProps = Omit<JSX.AnchorHTMLAttributes<HTMLAnchorElement>, "href"> & {
  href: string;
  children?: ComponentChildren;
};

export function Link({ href, onClick, ...rest }: LinkProps) {
  return (
    <a
      href={href}
      {...rest}
      onClick={(e: JSX.TargetedMouseEvent<HTMLAnchorElement>) => {
        if (onClick) (onClick as (ev: JSX.TargetedMouseEvent<HTMLAnchorElement>) => void)(e);
        if (e.defaultPrevented) return;
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        if (rest.target && rest.target !== "_self") return;
        e.preventDefault();
        navigate(href);
      }}
    />
  );
}
