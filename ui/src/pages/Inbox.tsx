import { useEffect, useMemo, useState } from "preact/hooks";
import { can, useUser } from "../auth";
import { Icon } from "../components/Icon";
import { PageHeader } from "../components/Layout";
import { MessageCard } from "../components/MessageCard";
import { ReclassifyDialog } from "../components/Reclassify";
import { Empty, LoadMore, Loading, Problem } from "../components/States";
import { dayKey, dayLabel, KIND_LABELS, KINDS, personName } from "../format";
import { useDocumentTitle, useMedia, usePaged, useResource } from "../hooks";
import { setQuery, useLocation } from "../router";
import type { Message, Page, Ref } from "../types";
import { t } from "../i18n";
import { DateInput } from "../components/DateInput";

export function Inbox() {
  useDocumentTitle(t("Inbox"));
  const { search } = useLocation();
  const q = search.get("q") ?? "";
  const chat = search.get("chat") ?? "";
  const kind = search.get("kind") ?? "";
  const from = search.get("from") ?? "";
  const to = search.get("to") ?? "";
  const person = search.get("person") ?? "";
  const personLabel = search.get("pname") ?? "";

  const [draft, setDraft] = useState(q);
  const phone = useMedia("(max-width: 760px)");
  const [showFilters, setShowFilters] = useState(false);
  const manage = can(useUser(), "manage");
  const [correcting, setCorrecting] = useState<Message | null>(null);
  const [flash, setFlash] = useState<string | null>(null);
  useEffect(() => setDraft(q), [q]);

  const filters = useMemo(() => ({ chat, kind, from, to, person }), [chat, kind, from, to, person]);
  const query = useMemo(() => (q ? { q, ...filters } : filters), [q, filters]);
  const list = usePaged<Message>(q ? "/search" : "/messages", query);
  const chats = useResource<Page<Ref>>("/chats", { limit: 500 });

  const groups = useMemo(() => {
    const out: Array<{ key: string; items: Message[] }> = [];
    for (const m of list.items) {
      const k = dayKey(m.sent_at);
      const last = out[out.length - 1];
      if (last && last.key === k) last.items.push(m);
      else out.push({ key: k, items: [m] });
    }
    return out;
  }, [list.items]);

  const anyFilter = !!(chat || kind || from || to || person || q);
  const activeCount = [chat, kind, from, to, person].filter(Boolean).length;
  const chatItems = chats.data?.items ?? [];

  return (
    <div class="page page-inbox">
      <PageHeader title={t("Inbox")} sub={t("Messages from your WhatsApp groups, newest first.")}>
        <button type="button" class="btn" onClick={list.reload} disabled={list.loading} aria-label={t("Refresh messages")}>
          <Icon name="refresh" size={16} /> <span class="btn-label">{t("Refresh")}</span>
        </button>
      </PageHeader>

      <form
        class="search-bar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ q: draft.trim() || null });
        }}
      >
        <label class="visually-hidden" for="inbox-search">
          {t("Search messages")}
        </label>
        <Icon name="search" size={18} />
        <input
          id="inbox-search"
          type="search"
          name="q"
          placeholder={t("Search messages (e.g. bocor, lift, Block A)")}
          value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)}
          enterKeyHint="search"
        />
        <button type="submit" class="btn btn-primary">
          {t("Search")}
        </button>
      </form>

      {phone ? (
        <button
          type="button"
          class="btn filters-toggle"
          aria-expanded={showFilters}
          aria-controls="inbox-filters"
          onClick={() => setShowFilters((s) => !s)}
        >
          {t("Filters")}{activeCount > 0 ? ` (${activeCount} on)` : ""} {showFilters ? "▴" : "▾"}
        </button>
      ) : null}
      <div class="filters" id="inbox-filters" role="group" aria-label={t("Filters")} hidden={phone && !showFilters}>
        {chatItems.length > 0 ? (
          <label class="field field-inline">
            <span>{t("Chat")}</span>
            <select value={chat} onChange={(e) => setQuery({ chat: e.currentTarget.value })}>
              <option value="">{t("All chats")}</option>
              {chatItems.map((c) => (
                <option key={String(c.id)} value={String(c.id)}>
                  {c.name ?? String(c.id)}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <label class="field field-inline">
          <span>{t("Kind")}</span>
          <select value={kind} onChange={(e) => setQuery({ kind: e.currentTarget.value })}>
            <option value="">{t("All kinds")}</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {KIND_LABELS[k]}
              </option>
            ))}
          </select>
        </label>
        <DateInput label={t("From")} name="from" value={from} onChange={(v) => setQuery({ from: v })} />
        <DateInput label={t("To")} name="to" value={to} onChange={(v) => setQuery({ to: v })} />
        {person ? (
          <button type="button" class="chip chip-filter" onClick={() => setQuery({ person: null, pname: null })} aria-label={t("Remove sender filter")}>
            {t("From")}{" "}{personLabel || t("one sender")} <Icon name="close" size={14} />
          </button>
        ) : null}
        {anyFilter ? (
          <button
            type="button"
            class="btn btn-quiet"
            onClick={() => setQuery({ q: null, chat: null, kind: null, from: null, to: null, person: null, pname: null })}
          >
            {t("Clear all")}
          </button>
        ) : null}
      </div>

      {flash ? (
        <p class="notice notice-ok" role="status">
          {flash}{" "}
          <button type="button" class="link-btn" onClick={() => setFlash(null)} aria-label={t("Dismiss")}>
            <Icon name="close" size={14} />
          </button>
        </p>
      ) : null}
      {correcting ? (
        <ReclassifyDialog
          message={correcting}
          onClose={() => setCorrecting(null)}
          onDone={(updated) => {
            setCorrecting(null);
            // Keep the search snippet (the correction answer has none); replace everything else.
            list.patch((items) => items.map((x) => (String(x.id) === String(updated.id) ? { ...x, ...updated, snippet: x.snippet } : x)));
            const k = updated.classification?.kind ?? updated.kind ?? "";
            setFlash(t("Message reclassified as {v0}.", { v0: KIND_LABELS[k] ?? k }));
          }}
        />
      ) : null}

      <div aria-live="polite" class="visually-hidden">
        {list.loaded && !list.loading ? t("{length} messages shown", { length: list.items.length }) : ""}
      </div>

      {list.error && list.items.length === 0 ? (
        <Problem error={list.error} what={q ? t("Search") : t("Messages")} onRetry={list.reload} />
      ) : !list.loaded ? (
        <Loading label={q ? t("Searching…") : t("Loading messages…")} />
      ) : list.items.length === 0 ? (
        <Empty title={q ? t("Nothing found for “{q}”", { q }) : anyFilter ? t("No messages match these filters") : t("No messages yet")} icon={q ? "search" : "inbox"}>
          {q || anyFilter
            ? t("Try other words or remove a filter.")
            : t("Messages appear here as soon as a WhatsApp group is connected or a chat export is imported.")}
        </Empty>
      ) : (
        <div class="msg-list">
          {groups.map((g) => (
            <section key={g.key} class="day" aria-label={dayLabel(g.key)}>
              <h2 class="day-head">
                <span>{dayLabel(g.key)}</span>
              </h2>
              {g.items.map((m) => (
                <MessageCard
                  key={String(m.id)}
                  m={m}
                  onChat={(x) => x.chat && setQuery({ chat: String(x.chat.id) }, { replace: false })}
                  onPerson={(x) =>
                    x.sender && setQuery({ person: String(x.sender.id), pname: personName(x.sender) }, { replace: false })
                  }
                  onCorrect={manage ? setCorrecting : undefined}
                />
              ))}
            </section>
          ))}
          {list.error ? <Problem error={list.error} what={t("More messages")} onRetry={list.loadMore} /> : null}
          <LoadMore hasMore={list.hasMore} loading={list.loading} onClick={list.loadMore} count={list.items.length} />
        </div>
      )}
    </div>
  );
}
