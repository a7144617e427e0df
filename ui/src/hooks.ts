import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, type Query } from "./api";
import type { Page } from "./types";

export interface Loadable<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
  /** Replace the data without a request (a write answered with the new version). */
  set: (data: T) => void;
}

/** Runs `load` whenever `key` changes (null: not at all) and keeps its answer, error and loading state. */
function useLoader<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>): Loadable<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean }>({
    data: null,
    error: null,
    loading: key !== null,
  });
  const [nonce, setNonce] = useState(0);

  useEffect(() => {
    if (key === null) return;
    const ctl = new AbortController();
    setState((s) => ({ data: s.data, error: null, loading: true }));
    load(ctl.signal)
      .then((data) => setState({ data, error: null, loading: false }))
      .catch((e: unknown) => {
        if (ctl.signal.aborted) return;
        // Keep what was shown before (a failed background refresh should not blank the page).
        setState((s) => ({ data: s.data, error: toApiError(e), loading: false }));
      });
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, nonce]);

  const reload = useCallback(() => setNonce((n) => n + 1), []);
  const set = useCallback((data: T) => setState({ data, error: null, loading: false }), []);
  return { ...state, reload, set };
}

/** GET one resource; re-fetches when `key` changes. `path` null means "don't fetch". */
export function useResource<T>(path: string | null, query?: Query): Loadable<T> {
  const key = path === null ? null : path + JSON.stringify(query ?? {});
  return useLoader<T>(key, (signal) => api<T>(path ?? "", { query, signal }));
}

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError(0, "client", e instanceof Error ? e.message : String(e));
}

export interface PagedList<T> {
  items: T[];
  error: ApiError | null;
  loading: boolean;
  /** True once the first page answered (successfully or not). */
  loaded: boolean;
  hasMore: boolean;
  loadMore: () => void;
  reload: () => void;
  /** Change the loaded items in place (e.g. after a correction answered with the updated record). */
  patch: (fn: (items: T[]) => T[]) => void;
  /** The first page's answer as sent (lists may carry more than items, e.g. the issues' totals). */
  head?: Record<string, unknown> | null;
}

/** A cursor-paginated list (`{items, next_cursor}`); resets when path or query change. */
export function usePaged<T>(path: string | null, query: Query = {}, limit = 50): PagedList<T> {
  const key = path === null ? null : path + JSON.stringify(query);
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const [nonce, setNonce] = useState(0);
  const [head, setHead] = useState<Record<string, unknown> | null>(null);
  const ctlRef = useRef<AbortController | null>(null);
  const genRef = useRef(0);

  const fetchPage = useCallback(
    (after: string | null, reset: boolean) => {
      if (path === null) return;
      ctlRef.current?.abort();
      const ctl = new AbortController();
      ctlRef.current = ctl;
      const gen = ++genRef.current;
      setLoading(true);
      setError(null);
      api<Page<T>>(path, { query: { ...query, limit, cursor: after ?? undefined }, signal: ctl.signal })
        .then((page) => {
          if (gen !== genRef.current) return;
          const got = Array.isArray(page?.items) ? page.items : [];
          setItems((prev) => (reset ? got : prev.concat(got)));
          if (reset) setHead(page as unknown as Record<string, unknown>);
          setCursor(page?.next_cursor ?? null);
          setLoading(false);
          setLoaded(true);
        })
        .catch((e: unknown) => {
          if (ctl.signal.aborted || gen !== genRef.current) return;
          if (reset) setItems([]);
          setError(toApiError(e));
          setLoading(false);
          setLoaded(true);
        });
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [key, limit],
  );

  useEffect(() => {
    setItems([]);
    setCursor(null);
    setLoaded(false);
    setHead(null);
    fetchPage(null, true);
    return () => ctlRef.current?.abort();
  }, [fetchPage, nonce]);

  return {
    items,
    error,
    loading,
    loaded,
    hasMore: cursor !== null,
    loadMore: () => {
      if (!loading && cursor !== null) fetchPage(cursor, false);
    },
    reload: () => setNonce((n) => n + 1),
    patch: (fn) => setItems((prev) => fn(prev)),
    head,
  };
}

/** Tracks a CSS media query, e.g. "(max-width: 760px)". */
export function useMedia(query: string): boolean {
  const [match, setMatch] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const mq = window.matchMedia(query);
    const on = () => setMatch(mq.matches);
    mq.addEventListener("change", on);
    on();
    return () => mq.removeEventListener("change", on);
  }, [query]);
  return match;
}

export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · tapak` : "tapak";
  }, [title]);
}

/** Every item of a cursor-paginated list (pages of 500), e.g. to count exactly what a list page will show. */
export async function fetchAll<T>(path: string, query: Query, signal?: AbortSignal, maxPages = 40): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < maxPages; i++) {
    const page: Page<T> = await api<Page<T>>(path, { query: { ...query, limit: 500, cursor: cursor ?? undefined }, signal });
    out.push(...(Array.isArray(page?.items) ? page.items : []));
    cursor = page?.next_cursor ?? null;
    if (!cursor) break;
  }
  return out;
}

/** `fetchAll` as a resource: re-fetches when path or query change. */
export function useAll<T>(path: string | null, query: Query = {}): Loadable<T[]> {
  const key = path === null ? null : path + JSON.stringify(query);
  return useLoader<T[]>(key, (signal) => fetchAll<T>(path ?? "", query, signal));
}
