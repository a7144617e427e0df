// Upload a WhatsApp chat export (.txt or .zip) and see what it added; the history of past imports below.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, upload } from "../api";
import { Icon } from "../components/Icon";
import { PageHeader } from "../components/Layout";
import { Empty, LoadMore, Loading, Problem } from "../components/States";
import { formatBytes, formatDateTime, isoAttr } from "../format";
import { toApiError, useDocumentTitle, useMedia, usePaged, useResource } from "../hooks";
import { Link } from "../router";
import type { Chat, ImportRow, ImportSummary, Page, Site } from "../types";
import { t } from "../i18n";

const ACCEPT = ".txt,.zip,text/plain,application/zip";

/** "WhatsApp Chat with Cleaning Team.zip" → "Cleaning Team" (the server does the same when no name is given). */
function chatNameFromFile(name: string): string {
  return name
    .replace(/\.(txt|zip)$/i, "")
    .replace(/^WhatsApp Chat (with|-)\s*/i, "")
    .replace(/^Chat de WhatsApp con\s*/i, "")
    .trim();
}

type Phase = { state: "idle" } | { state: "uploading"; loaded: number; total: number } | { state: "processing" };

export function Imports() {
  useDocumentTitle(t("Import"));
  const [file, setFile] = useState<File | null>(null);
  const [chat, setChat] = useState("");
  const [chatTouched, setChatTouched] = useState(false);
  const [site, setSite] = useState("");
  const [drag, setDrag] = useState(false);
  const [phase, setPhase] = useState<Phase>({ state: "idle" });
  const [error, setError] = useState<ApiError | null>(null);
  const [summary, setSummary] = useState<ImportSummary | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const ctl = useRef<AbortController | null>(null);
  const history = usePaged<ImportRow>("/imports", {}, 20);
  const chats = useResource<Page<Chat>>("/chats", { limit: 500 });
  const sites = useResource<Page<Site>>("/sites", { limit: 500 });
  const phone = useMedia("(max-width: 760px)");

  useEffect(() => () => ctl.current?.abort(), []);

  const pick = (f: File | null | undefined) => {
    if (!f) return;
    setError(null);
    setSummary(null);
    if (!/\.(txt|zip)$/i.test(f.name)) {
      setFile(null);
      setError(new ApiError(400, "client", `“${f.name}” is not a chat export. Choose the .txt or .zip file that WhatsApp's “Export chat” made.`));
      return;
    }
    setFile(f);
    if (!chatTouched) setChat(chatNameFromFile(f.name));
  };

  const busy = phase.state !== "idle";

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!file || busy) return;
    setError(null);
    setSummary(null);
    const c = new AbortController();
    ctl.current = c;
    setPhase({ state: "uploading", loaded: 0, total: file.size });
    try {
      const s = await upload<ImportSummary>("/imports", file, {
        query: { chat: chat.trim() || undefined, site: site.trim() || undefined, filename: file.name },
        signal: c.signal,
        onProgress: (loaded, total) => setPhase(loaded >= total ? { state: "processing" } : { state: "uploading", loaded, total }),
      });
      setSummary(s);
      if (s.errors && s.errors.length > 0) setError(new ApiError(400, "import", s.errors.join("\n")));
      setFile(null);
      if (inputRef.current) inputRef.current.value = "";
      history.reload();
      chats.reload();
      sites.reload();
    } catch (err) {
      if (!(err instanceof DOMException && err.name === "AbortError")) setError(toApiError(err));
    } finally {
      setPhase({ state: "idle" });
      ctl.current = null;
    }
  };

  const pct = phase.state === "uploading" && phase.total > 0 ? Math.round((phase.loaded / phase.total) * 100) : phase.state === "processing" ? 100 : 0;

  return (
    <div class="page page-imports">
      <PageHeader title={t("Import a chat")} sub={t("Bring in the history of a WhatsApp group from its “Export chat” file.")} />

      <form class="panel form" onSubmit={submit} aria-labelledby="import-title">
        <h2 id="import-title">{t("Upload an export")}</h2>
        <div
          class={`dropzone${drag ? " dropzone-over" : ""}${file ? " dropzone-has" : ""}`}
          onDragOver={(e) => {
            e.preventDefault();
            if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
            setDrag(true);
          }}
          onDragLeave={() => setDrag(false)}
          onDrop={(e) => {
            e.preventDefault();
            setDrag(false);
            if (!busy) pick(e.dataTransfer?.files?.[0]);
          }}
        >
          <Icon name="doc" size={28} />
          {file ? (
            <p class="dropzone-file">
              <strong>{file.name}</strong> <span class="muted">({formatBytes(file.size)})</span>
            </p>
          ) : (
            <p>{t("Drop the .txt or .zip file here, or")}</p>
          )}
          <label class="btn">
            {file ? t("Choose another file") : t("Choose a file")}
            <input
              ref={inputRef}
              class="visually-hidden"
              type="file"
              name="file"
              accept={ACCEPT}
              disabled={busy}
              onChange={(e) => pick(e.currentTarget.files?.[0])}
            />
          </label>
          <p class="dropzone-hint muted">
            {t("In WhatsApp: open the group → ⋮ → More → Export chat. “Include media” makes a .zip whose photos become evidence.")}
          </p>
        </div>

        <div class="form-grid">
          <label class="field">
            <span>{t("Chat name")}</span>
            <input
              name="chat"
              list="import-chats"
              value={chat}
              onInput={(e) => {
                setChat(e.currentTarget.value);
                setChatTouched(true);
              }}
              placeholder={t("taken from the file name")}
              autoComplete="off"
            />
            <datalist id="import-chats">
              {(chats.data?.items ?? []).map((c) => (c.name ? <option key={String(c.id)} value={c.name} /> : null))}
            </datalist>
            <small class="field-hint">{t("An existing chat of this name gets the messages; duplicates are skipped.")}</small>
          </label>
          <label class="field">
            <span>{t("Site (optional)")}</span>
            <input name="site" list="import-sites" value={site} onInput={(e) => setSite(e.currentTarget.value)} autoComplete="off" />
            <datalist id="import-sites">
              {(sites.data?.items ?? []).map((s) => (
                <option key={String(s.id)} value={s.name} />
              ))}
            </datalist>
            <small class="field-hint">{t("Created when new. The site decides block names and proof rules.")}</small>
          </label>
        </div>

        {busy ? (
          <div class="progress-wrap" role="status" aria-live="polite">
            <progress class="progress" max={100} value={pct} aria-label={t("Upload progress")} />
            <span>
              {phase.state === "uploading"
                ? t("Uploading… {pct}% ({v1} of {v2})", { pct, v1: formatBytes(phase.loaded), v2: formatBytes(phase.total) })
                : t("Reading and classifying the messages…")}
            </span>
          </div>
        ) : null}

        {error ? (
          <div class="form-error" role="alert">
            <strong>{t("The import did not go through.")}</strong>
            <p class="pre">{error.forbidden ? t("Your role may not import chats.") : error.message}</p>
          </div>
        ) : null}

        <div class="dialog-actions">
          {busy && phase.state === "uploading" ? (
            <button type="button" class="btn" onClick={() => ctl.current?.abort()}>
              {t("Cancel")}
            </button>
          ) : null}
          <button type="submit" class="btn btn-primary" disabled={!file || busy} aria-busy={busy}>
            {busy ? t("Importing…") : t("Import")}
          </button>
        </div>
      </form>

      {summary ? <Summary s={summary} /> : null}

      <section class="panel" aria-labelledby="import-history">
        <h2 id="import-history">{t("Past imports")}</h2>
        {history.error && history.items.length === 0 ? (
          <Problem error={history.error} what={t("Import history")} onRetry={history.reload} />
        ) : !history.loaded ? (
          <Loading />
        ) : history.items.length === 0 ? (
          <Empty title={t("Nothing imported yet")} icon="doc" />
        ) : phone ? (
          <>
            <ul class="card-list import-history">
              {history.items.map((r) => (
                <li key={String(r.id)} class="card">
                  <span class="card-title">{r.chat?.name ?? r.path}</span>
                  <p class="card-meta">
                    {r.new.toLocaleString()}{" "}{t("new ·")}{" "}{r.duplicates.toLocaleString()}{" "}{t("already there")}
                    {r.media ? t(" · {v0} of {media} media", { v0: r.media_stored ?? 0, media: r.media }) : ""}
                  </p>
                  <p class="card-meta">
                    <time dateTime={isoAttr(r.created_at)}>{formatDateTime(r.created_at)}</time> · {r.path}
                    {r.site ? ` · ${r.site.name}` : ""} · {(r.actor ?? "").replace(/^(user|token):/, "")}
                  </p>
                </li>
              ))}
            </ul>
            <LoadMore hasMore={history.hasMore} loading={history.loading} onClick={history.loadMore} count={history.items.length} />
          </>
        ) : (
          <>
            <div class="table-wrap" tabIndex={0}>
              <table class="table">
                <caption class="visually-hidden">{t("Past imports")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("When")}</th>
                    <th scope="col">{t("File")}</th>
                    <th scope="col">{t("Chat")}</th>
                    <th scope="col">{t("New")}</th>
                    <th scope="col">{t("Already there")}</th>
                    <th scope="col">{t("Media")}</th>
                    <th scope="col">{t("By")}</th>
                  </tr>
                </thead>
                <tbody>
                  {history.items.map((r) => (
                    <tr key={String(r.id)}>
                      <td>
                        <time dateTime={isoAttr(r.created_at)}>{formatDateTime(r.created_at)}</time>
                      </td>
                      <td class="cell-wrap">
                        {r.path}
                        {r.bytes ? <div class="row-sub">{formatBytes(r.bytes)}</div> : null}
                      </td>
                      <td class="cell-wrap">
                        {r.chat ? <Link href={`/inbox?chat=${encodeURIComponent(String(r.chat.id))}`}>{r.chat.name ?? t("Chat {id}", { id: r.chat.id })}</Link> : "—"}
                        {r.site ? <div class="row-sub">{r.site.name}</div> : null}
                      </td>
                      <td>{r.new.toLocaleString()}</td>
                      <td>{r.duplicates.toLocaleString()}</td>
                      <td>{typeof r.media_stored === "number" ? `${r.media_stored} of ${r.media ?? 0}` : (r.media ?? "—")}</td>
                      <td>{(r.actor ?? "").replace(/^(user|token):/, "")}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <LoadMore hasMore={history.hasMore} loading={history.loading} onClick={history.loadMore} count={history.items.length} />
          </>
        )}
      </section>
    </div>
  );
}

function Summary({ s }: { s: ImportSummary }) {
  const ok = !s.errors || s.errors.length === 0;
  const rows: Array<[string, number | undefined, string]> = [
    [t("Messages in the file"), s.messages, "summary-messages"],
    [t("New messages"), s.new, "summary-new"],
    [t("Already stored"), s.duplicates, "summary-duplicates"],
    [t("Matched live messages"), s.live_matches, "summary-live"],
    [t("Media in the file"), s.media, "summary-media"],
    [t("Photos and files stored"), s.media_stored, "summary-media-stored"],
    [t("Media missing from the export"), s.media_missing, "summary-media-missing"],
    [t("Tasks and tickets created"), s.records_created, "summary-records"],
  ];
  return (
    <section class={`panel summary${ok ? " summary-ok" : " summary-bad"}`} aria-labelledby="import-summary" data-testid="import-summary">
      <div class="panel-head">
        <h2 id="import-summary">{ok ? t("Imported") : t("Not imported")}: {s.path}</h2>
        {s.chat ? <Link href={`/inbox?chat=${encodeURIComponent(String(s.chat.id))}`}>{t("Open")}{" "}{s.chat.name}{" "}{t("in the inbox →")}</Link> : null}
      </div>
      <dl class="summary-grid">
        {rows
          .filter(([, v]) => typeof v === "number")
          .map(([label, v, key]) => (
            <div key={key} class="summary-cell" data-key={key}>
              <dt>{label}</dt>
              <dd>{(v as number).toLocaleString()}</dd>
            </div>
          ))}
      </dl>
      {s.first_message_at ? (
        <p class="muted">
          {t("From")}{" "}{formatDateTime(s.first_message_at)}{" "}{t("to")}{" "}{formatDateTime(s.last_message_at)}
          {s.site ? ` · site ${s.site.name}` : ""}
        </p>
      ) : null}
      {s.date_order_ambiguous ? (
        <p class="notice notice-warn">
          {t("The file's dates could be read day-first or month-first; tapak chose")}{" "}{s.date_order === "month_first" ? "month-first" : "day-first"}{t(". Check that the dates look right.")}
        </p>
      ) : null}
      {s.warnings && s.warnings.length > 0 ? (
        <>
          <h3 class="h-sub">{t("Warnings")}</h3>
          <ul class="plain-list">
            {s.warnings.map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ul>
        </>
      ) : null}
      {s.errors && s.errors.length > 0 ? (
        <ul class="plain-list form-error">
          {s.errors.map((w, i) => (
            <li key={i}>{w}</li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
