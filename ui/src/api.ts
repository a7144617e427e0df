import { t } from "./i18n";
// Thin JSON client for /api/v1: same-origin cookie session, CSRF header on writes, typed errors.

export class ApiError extends Error {
  status: number;
  code: string;
  retryAfter: number | null;
  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
  /** 404 from an endpoint that this server version does not have yet (or a record that does not exist). */
  get notAvailable(): boolean {
    return this.status === 404 || this.status === 405 || this.status === 501;
  }
  get unauthorized(): boolean {
    return this.status === 401;
  }
  get forbidden(): boolean {
    return this.status === 403;
  }
  get offline(): boolean {
    return this.status === 0;
  }
}

let csrfToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when any call (other than the auth ones) answers 401: the session expired. */
export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export function buildQuery(q?: Query): string {
  if (!q) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === null || v === undefined || v === "") continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  query?: Query;
  signal?: AbortSignal;
  /** Do not trigger the global "session expired" handler on 401 (login, me). */
  quiet401?: boolean;
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? "GET";
  const headers: Record<string, string> = { Accept: "application/json" };
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;

  let res: Response;
  try {
    res = await fetch(`/api/v1${path}${buildQuery(opts.query)}`, {
      method,
      headers,
      body,
      credentials: "same-origin",
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, "network", t("Cannot reach tapak. Check the connection and try again."));
  }

  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }

  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string } } | null)?.error;
    const ra = res.headers.get("Retry-After");
    const retryAfter = ra && /^\d+$/.test(ra) ? Number(ra) : null;
    const apiErr = new ApiError(
      res.status,
      err?.code ?? `http_${res.status}`,
      err?.message ?? defaultMessage(res.status),
      retryAfter,
    );
    if (res.status === 401 && !opts.quiet401 && onUnauthorized) onUnauthorized();
    throw apiErr;
  }
  if (data === null && text) {
    throw new ApiError(res.status, "bad_response", t("tapak answered with something that is not JSON."));
  }
  return data as T;
}

function defaultMessage(status: number): string {
  switch (status) {
    case 401:
      return t("Please sign in.");
    case 403:
      return t("Your role does not allow this.");
    case 404:
      return t("Not available yet.");
    case 429:
      return t("Too many attempts. Please wait and try again.");
    default:
      return status >= 500 ? t("tapak had a problem answering. Try again in a moment.") : t("Request failed ({status}).", { status });
  }
}

export const evidenceUrl = {
  thumbnail: (id: string | number) => `/api/v1/evidence/${encodeURIComponent(String(id))}/thumbnail`,
  file: (id: string | number) => `/api/v1/evidence/${encodeURIComponent(String(id))}/file`,
};

export interface UploadOptions {
  query?: Query;
  onProgress?: (loaded: number, total: number) => void;
  /** Lets the caller abort (e.g. a "Cancel" button). */
  signal?: AbortSignal;
}

/**
 * POST a file as the raw request body with XMLHttpRequest (fetch has no upload progress), with the CSRF header.
 * Resolves with the parsed JSON answer; rejects with an ApiError like `api()`.
 */
export function upload<T>(path: string, file: Blob, opts: UploadOptions = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1${path}${buildQuery(opts.query)}`);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    if (csrfToken) xhr.setRequestHeader("X-CSRF-Token", csrfToken);
    if (opts.onProgress) {
      const cb = opts.onProgress;
      xhr.upload.addEventListener("progress", (e) => cb(e.loaded, e.lengthComputable ? e.total : file.size));
    }
    const onAbort = () => xhr.abort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    xhr.addEventListener("load", () => {
      opts.signal?.removeEventListener("abort", onAbort);
      let data: unknown = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        if (data === null) reject(new ApiError(xhr.status, "bad_response", t("tapak answered with something that is not JSON.")));
        else resolve(data as T);
        return;
      }
      const err = (data as { error?: { code?: string; message?: string } } | null)?.error;
      const message =
        xhr.status === 413 ? t("The file is larger than this server accepts (server.upload_body_limit).") : (err?.message ?? defaultMessage(xhr.status));
      if (xhr.status === 401 && onUnauthorized) onUnauthorized();
      reject(new ApiError(xhr.status, err?.code ?? `http_${xhr.status}`, message));
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, "network", t("The upload was interrupted. Check the connection and try again."))),
    );
    xhr.addEventListener("abort", () => reject(new DOMException("Upload cancelled", "AbortError")));
    xhr.send(file);
  });
}
