// Settings: the current user; sites, chats, people and vendors (managers and admins); the SLA policy (admins edit).
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { can, useUser } from "../auth";
import { ActionError, Dialog, DialogActions, useAction } from "../components/Dialog";
import { PageHeader } from "../components/Layout";
import { Empty, Loading, Problem } from "../components/States";
import { CATEGORIES, formatDateTime, humanize, personName, PRIORITIES, relative, timeZone } from "../format";
import { useDocumentTitle, useResource } from "../hooks";
import { Link, useLocation } from "../router";
import type { Chat, Page, PersonFull, Site, SiteSettings, SlaPolicy, SlaRule, SlaTarget, Vendor } from "../types";
import { t as tr } from "../i18n";
import { Connections, ReminderSettings, UsersAndTokens, Vendors } from "./SettingsPanels";

const enc = (v: string | number) => encodeURIComponent(String(v));

export function Settings() {
  useDocumentTitle(tr("Settings"));
  const user = useUser();
  const directory = can(user, "directory");
  const admin = can(user, "settings");
  const sections = [
    { id: "account", label: tr("Account"), show: true },
    { id: "connections", label: tr("WhatsApp connections"), show: directory },
    { id: "reminders", label: tr("Reminders"), show: directory },
    { id: "sites", label: tr("Sites"), show: directory },
    { id: "chats", label: tr("Chats"), show: directory },
    { id: "people", label: tr("People"), show: directory },
    { id: "vendors", label: tr("Vendors"), show: directory },
    { id: "sla", label: tr("SLA policy"), show: directory },
    { id: "appliance", label: tr("Users and API"), show: admin },
  ].filter((x) => x.show);
  const { search } = useLocation();
  const asked = search.get("section") ?? "account";
  const current = sections.some((x) => x.id === asked) ? asked : "account";
  return (
    <div class="page page-settings">
      <PageHeader title={tr("Settings")} />
      {sections.length > 1 ? (
        <nav class="tabs" aria-label={tr("Settings sections")}>
          {sections.map((x) => (
            <Link key={x.id} href={`/settings?section=${x.id}`} class="tab" aria-current={x.id === current ? "page" : undefined} data-section={x.id}>
              {x.label}
            </Link>
          ))}
        </nav>
      ) : null}

      {current === "account" ? (
        <section class="panel" id="account" aria-labelledby="h-account">
          <h2 id="h-account">{tr("Your account")}</h2>
          <dl class="facts">
            <div class="fact">
              <dt>{tr("Name")}</dt>
              <dd>{user?.name}</dd>
            </div>
            <div class="fact">
              <dt>{tr("Role")}</dt>
              <dd>{humanize(user?.role)}</dd>
            </div>
            <div class="fact">
              <dt>{tr("User id")}</dt>
              <dd>{user ? String(user.id) : ""}</dd>
            </div>
            <div class="fact">
              <dt>{tr("Time zone")}</dt>
              <dd>{timeZone()}</dd>
            </div>
          </dl>
          {!directory ? <p class="notice">{tr("Only managers and administrators can change sites, people and policies.")}</p> : null}
        </section>
      ) : null}
      {current === "connections" ? <Connections admin={admin} /> : null}
      {current === "reminders" ? <Reminders editable={directory} /> : null}
      {current === "sites" ? <Sites /> : null}
      {current === "chats" ? <Chats /> : null}
      {current === "people" ? <People /> : null}
      {current === "vendors" ? <Vendors editable={directory} /> : null}
      {current === "sla" ? <SlaEditor editable={admin} /> : null}
      {current === "appliance" ? <UsersAndTokens me={user?.id as number | null | undefined} /> : null}
    </div>
  );
}

// ---------------------------------------------------------------------------------------------------------
// Reminders: what the appliance sent lately (the outbox).

interface Send {
  id: number;
  to: string;
  purpose: string;
  state: string;
  text: string;
  error?: string | null;
  created_at: string;
}

function Reminders({ editable }: { editable: boolean }) {
  const sends = useResource<Page<Send>>("/outbox", { limit: 30 });
  return (
    <section class="panel" id="reminders" aria-labelledby="h-reminders" data-testid="reminders">
      <h2 id="h-reminders">{tr("Reminders")}</h2>
      <p class="muted">{tr("Quiet hours, language and the approved template are set in the appliance's configuration ([reminders]); each schedule sets when to remind and whom to escalate to.")}</p>
      <ReminderSettings editable={editable} />
      <h3>{tr("Sent lately")}</h3>
      {sends.error && !sends.data ? (
        <Problem error={sends.error} what={tr("Reminders")} onRetry={sends.reload} />
      ) : !sends.data ? (
        <Loading />
      ) : sends.data.items.length === 0 ? (
        <Empty title={tr("Nothing sent yet")} icon="chat" />
      ) : (
        <div class="table-wrap" tabIndex={0}>
          <table class="table table-compact">
            <caption class="visually-hidden">{tr("Sent lately")}</caption>
            <thead>
              <tr>
                <th scope="col">{tr("When")}</th>
                <th scope="col">{tr("Kind")}</th>
                <th scope="col">{tr("To")}</th>
                <th scope="col">{tr("State")}</th>
                <th scope="col">{tr("Message")}</th>
              </tr>
            </thead>
            <tbody>
              {sends.data.items.map((x) => (
                <tr key={x.id} data-row="send">
                  <td class="nowrap">{formatDateTime(x.created_at)}</td>
                  <td>{tr(x.purpose === "escalation" ? "escalation" : x.purpose === "summary" ? "summary" : x.purpose === "test" ? "test message" : "reminder")}</td>
                  <td>{x.to}</td>
                  <td>
                    {tr(x.state)}
                    {x.error ? <div class="row-sub">{x.error}</div> : null}
                  </td>
                  <td>
                    <div class="clamp-1">{x.text}</div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

// ---------------------------------------------------------------------------------------------------------
// Sites

function blocksText(s: SiteSettings | null | undefined): string {
  return Array.isArray(s?.blocks) ? s!.blocks!.join(", ") : "";
}

function parseBlocks(t: string): string[] {
  return t
    .split(/[,\n]/)
    .map((x) => x.trim())
    .filter(Boolean);
}

function Sites() {
  const sites = useResource<Page<Site>>("/sites", { limit: 500 });
  const [editing, setEditing] = useState<Site | null>(null);
  const [name, setName] = useState("");
  const act = useAction();
  const create = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) return;
    const r = await act.run(() => api<Site>("/sites", { method: "POST", body: { name: name.trim(), settings: {} } }));
    if (r) {
      setName("");
      sites.reload();
    }
  };
  const items = sites.data?.items ?? [];
  return (
    <section class="panel" id="sites" aria-labelledby="h-sites">
      <h2 id="h-sites">{tr("Sites")}</h2>
      {sites.error && !sites.data ? (
        <Problem error={sites.error} what={tr("Sites")} onRetry={sites.reload} />
      ) : !sites.data ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty title={tr("No sites yet")} icon="location">
          {tr("A site is a property (a condo, an office tower). Chats belong to a site.")}
        </Empty>
      ) : (
        <ul class="rows">
          {items.map((s) => (
            <li key={String(s.id)} class="row" data-site={s.name}>
              <div class="row-main">
                <strong>{s.name}</strong>
                <span class="row-sub">
                  {typeof s.chats === "number" ? `${s.chats} chat${s.chats === 1 ? "" : "s"}` : ""}
                  {s.settings?.require_proof ? tr(" · proof required to close") : ""}
                  {blocksText(s.settings) ? ` · blocks ${blocksText(s.settings)}` : ""}
                </span>
              </div>
              <button type="button" class="btn btn-small" onClick={() => setEditing(s)}>
                {tr("Edit")}
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="inline-form" onSubmit={create}>
        <label class="field">
          <span>{tr("New site")}</span>
          <input name="site-name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder={tr("e.g. Seri Mutiara Residences")} />
        </label>
        <button type="submit" class="btn" disabled={act.busy || !name.trim()}>
          {tr("Add site")}
        </button>
      </form>
      <ActionError error={act.error} />
      {editing ? (
        <SiteDialog
          site={editing}
          onClose={() => setEditing(null)}
          onDone={() => {
            setEditing(null);
            sites.reload();
          }}
        />
      ) : null}
    </section>
  );
}

function SiteDialog({ site, onClose, onDone }: { site: Site; onClose: () => void; onDone: () => void }) {
  const [name, setName] = useState(site.name);
  const [proof, setProof] = useState(!!site.settings?.require_proof);
  const [blocks, setBlocks] = useState(blocksText(site.settings));
  const act = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    // Keep any other site settings (areas, aliases…) as they are.
    const settings: SiteSettings = { ...(site.settings ?? {}), require_proof: proof, blocks: parseBlocks(blocks) };
    const r = await act.run(() => api<unknown>(`/sites/${enc(site.id)}`, { method: "PATCH", body: { name: name.trim() || site.name, settings } }));
    if (r !== undefined) onDone();
  };
  return (
    <Dialog title={tr("Site — {name}", { name: site.name })} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <label class="field">
          <span>{tr("Name")}</span>
          <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        </label>
        <label class="field field-check">
          <input type="checkbox" name="require_proof" checked={proof} onChange={(e) => setProof(e.currentTarget.checked)} />
          {tr("Require a photo as resolution proof before a ticket can be closed")}
        </label>
        <label class="field">
          <span>{tr("Block names")}</span>
          <input name="blocks" value={blocks} onInput={(e) => setBlocks(e.currentTarget.value)} placeholder={tr("A, B, C, Tower 3")} />
          <small class="field-hint">{tr("Separated by commas. Helps the classifier recognise locations.")}</small>
        </label>
        <ActionError error={act.error} />
        <DialogActions busy={act.busy} submit={tr("Save site")} onCancel={onClose} />
      </form>
    </Dialog>
  );
}

// ---------------------------------------------------------------------------------------------------------
// Chats

function Chats() {
  const chats = useResource<Page<Chat>>("/chats", { limit: 500 });
  const sites = useResource<Page<Site>>("/sites", { limit: 500 });
  const [renaming, setRenaming] = useState<Chat | null>(null);
  const act = useAction();
  const setSite = async (c: Chat, site: string) => {
    const r = await act.run(() => api<Chat>(`/chats/${enc(c.id)}`, { method: "PATCH", body: { site: site ? Number(site) : null } }));
    if (r) chats.reload();
  };
  const items = chats.data?.items ?? [];
  const siteItems = sites.data?.items ?? [];
  return (
    <section class="panel" id="chats" aria-labelledby="h-chats">
      <h2 id="h-chats">{tr("Chats and their sites")}</h2>
      {chats.error && !chats.data ? (
        <Problem error={chats.error} what={tr("Chats")} onRetry={chats.reload} />
      ) : !chats.data ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty title={tr("No chats yet")} icon="chat" />
      ) : (
        <ul class="rows">
          {items.map((c) => (
            <li key={String(c.id)} class="row">
              <div class="row-main">
                <strong>{c.name ?? tr("Chat {id}", { id: c.id })}</strong>
                <span class="row-sub">
                  {humanize(c.source)}
                  {typeof c.messages === "number" ? ` · ${c.messages.toLocaleString()} messages` : ""}
                  {c.last_message_at ? ` · last ${relative(c.last_message_at)}` : ""}
                </span>
              </div>
              <label class="field field-inline row-field">
                <span>{tr("Site")}</span>
                <select value={c.site ? String(c.site.id) : ""} onChange={(e) => setSite(c, e.currentTarget.value)} disabled={act.busy}>
                  <option value="">{tr("No site")}</option>
                  {siteItems.map((s) => (
                    <option key={String(s.id)} value={String(s.id)}>
                      {s.name}
                    </option>
                  ))}
                </select>
              </label>
              <button type="button" class="btn btn-small" onClick={() => setRenaming(c)}>
                {tr("Rename")}
              </button>
            </li>
          ))}
        </ul>
      )}
      <ActionError error={act.error} />
      {renaming ? (
        <RenameDialog
          title={tr("Rename chat — {v0}", { v0: renaming.name ?? renaming.id })}
          initial={renaming.name ?? ""}
          onClose={() => setRenaming(null)}
          save={(name) => api<Chat>(`/chats/${enc(renaming.id)}`, { method: "PATCH", body: { name } })}
          onDone={() => {
            setRenaming(null);
            chats.reload();
          }}
        />
      ) : null}
    </section>
  );
}

function RenameDialog({
  title,
  initial,
  onClose,
  save,
  onDone,
}: {
  title: string;
  initial: string;
  onClose: () => void;
  save: (name: string) => Promise<unknown>;
  onDone: () => void;
}) {
  const [name, setName] = useState(initial);
  const act = useAction();
  return (
    <Dialog title={title} onClose={onClose}>
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!name.trim()) return;
          const r = await act.run(() => save(name.trim()));
          if (r !== undefined) onDone();
        }}
      >
        <label class="field">
          <span>{tr("Name")}</span>
          <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        </label>
        <ActionError error={act.error} />
        <DialogActions busy={act.busy} submit={tr("Save")} onCancel={onClose} />
      </form>
    </Dialog>
  );
}

// ---------------------------------------------------------------------------------------------------------
// People

function People() {
  const people = useResource<Page<PersonFull>>("/people", { limit: 500 });
  const vendors = useResource<Page<Vendor>>("/vendors", { limit: 500 });
  const [filter, setFilter] = useState("");
  const [editing, setEditing] = useState<PersonFull | null>(null);
  const [merging, setMerging] = useState<PersonFull | null>(null);
  const [adding, setAdding] = useState(false);
  const all = people.data?.items ?? [];
  const f = filter.trim().toLowerCase();
  const items = f
    ? all.filter((p) => `${p.name ?? ""} ${p.phone ?? ""} ${(p.aliases ?? []).join(" ")} ${p.vendor?.name ?? ""}`.toLowerCase().includes(f))
    : all;
  const done = () => {
    setEditing(null);
    setMerging(null);
    setAdding(false);
    people.reload();
  };
  return (
    <section class="panel" id="people" aria-labelledby="h-people">
      <div class="panel-head">
        <h2 id="h-people">{tr("People")}</h2>
        <button type="button" class="btn btn-small" onClick={() => setAdding(true)}>
          {tr("Add person")}
        </button>
      </div>
      {all.length > 8 ? (
        <label class="field">
          <span class="visually-hidden">{tr("Find a person")}</span>
          <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} placeholder={tr("Find by name, phone or vendor")} />
        </label>
      ) : null}
      {people.error && !people.data ? (
        <Problem error={people.error} what={tr("People")} onRetry={people.reload} />
      ) : !people.data ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty title={f ? tr("Nobody matches") : tr("No people yet")} icon="user" />
      ) : (
        <ul class="rows">
          {items.map((p) => (
            <li key={String(p.id)} class="row" data-person={p.name ?? ""}>
              <div class="row-main">
                <strong>{personName(p)}</strong>
                <span class="row-sub">
                  {[p.phone ? `+${p.phone.replace(/^\+/, "")}` : tr("no phone"), p.vendor?.name ?? ""].filter(Boolean).join(" · ")}
                  {p.aliases && p.aliases.filter((a) => a !== p.name).length > 0
                    ? tr(" · also “{v0}”", { v0: p.aliases.filter((a) => a !== p.name).join("”, “") })
                    : ""}
                </span>
              </div>
              <div class="row-buttons">
                <button type="button" class="btn btn-small" onClick={() => setEditing(p)}>
                  {tr("Edit")}
                </button>
                <button type="button" class="btn btn-small" onClick={() => setMerging(p)}>
                  {tr("Merge…")}
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      {editing || adding ? (
        <PersonDialog person={editing} vendors={vendors.data?.items ?? []} onClose={() => (setEditing(null), setAdding(false))} onDone={done} />
      ) : null}
      {merging ? <MergePersonDialog person={merging} people={all} onClose={() => setMerging(null)} onDone={done} /> : null}
    </section>
  );
}

function PersonDialog({
  person,
  vendors,
  onClose,
  onDone,
}: {
  person: PersonFull | null;
  vendors: Vendor[];
  onClose: () => void;
  onDone: () => void;
}) {
  const [name, setName] = useState(person?.name ?? "");
  const [phone, setPhone] = useState(person?.phone ?? "");
  const [vendor, setVendor] = useState(person?.vendor ? String(person.vendor.id) : "");
  const act = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = { name: name.trim() || null, phone: phone.trim() || null, vendor: vendor ? Number(vendor) : null };
    const r = await act.run(() =>
      person ? api<unknown>(`/people/${enc(person.id)}`, { method: "PATCH", body }) : api<unknown>("/people", { method: "POST", body }),
    );
    if (r !== undefined) onDone();
  };
  return (
    <Dialog title={person ? tr("Edit — {v0}", { v0: personName(person) }) : tr("Add a person")} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <label class="field">
          <span>{tr("Name")}</span>
          <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>{tr("Phone")}</span>
          <input name="phone" type="tel" value={phone} onInput={(e) => setPhone(e.currentTarget.value)} placeholder="+60 12-345 6789" />
        </label>
        <label class="field">
          <span>{tr("Vendor")}</span>
          <select name="vendor" value={vendor} onChange={(e) => setVendor(e.currentTarget.value)}>
            <option value="">{tr("Own staff (no vendor)")}</option>
            {vendors.map((v) => (
              <option key={String(v.id)} value={String(v.id)}>
                {v.name}
                {v.trade ? ` (${humanize(v.trade)})` : ""}
              </option>
            ))}
          </select>
        </label>
        <ActionError error={act.error} />
        <DialogActions busy={act.busy} submit={person ? tr("Save") : tr("Add person")} onCancel={onClose} />
      </form>
    </Dialog>
  );
}

function MergePersonDialog({
  person,
  people,
  onClose,
  onDone,
}: {
  person: PersonFull;
  people: PersonFull[];
  onClose: () => void;
  onDone: () => void;
}) {
  const [into, setInto] = useState("");
  const act = useAction();
  const others = people.filter((p) => String(p.id) !== String(person.id));
  return (
    <Dialog title={tr("Merge — {v0}", { v0: personName(person) })} onClose={onClose}>
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!into) return;
          const r = await act.run(() => api<unknown>(`/people/${enc(person.id)}/merge`, { method: "POST", body: { into: Number(into) } }));
          if (r !== undefined) onDone();
        }}
      >
        <p class="muted">
          {tr("Use this when the same human appears twice (e.g. a new phone number). Their messages and tickets move to the person you choose;")}{" "}{personName(person)}{" "}{tr("disappears from the list.")}
        </p>
        <label class="field">
          <span>{tr("Same person as")}</span>
          <select name="into" value={into} onChange={(e) => setInto(e.currentTarget.value)}>
            <option value="">{tr("Choose a person…")}</option>
            {others.map((p) => (
              <option key={String(p.id)} value={String(p.id)}>
                {personName(p)}
                {p.phone ? ` (+${p.phone.replace(/^\+/, "")})` : ""}
              </option>
            ))}
          </select>
        </label>
        <ActionError error={act.error} />
        <DialogActions busy={act.busy} disabled={!into} submit={tr("Merge")} onCancel={onClose} danger />
      </form>
    </Dialog>
  );
}

// ---------------------------------------------------------------------------------------------------------
// SLA policy

const WEEKDAYS = [tr("Mon"), tr("Tue"), tr("Wed"), tr("Thu"), tr("Fri"), tr("Sat"), tr("Sun")];

function hhmm(t: string | null | undefined): string {
  return (t ?? "").slice(0, 5);
}

/** A target typed in minutes, hours or days (stored as minutes). */
function MinutesField({ label, value, onChange, disabled }: { label: string; value: number; onChange: (n: number) => void; disabled: boolean }) {
  const unitOf = (m: number) => (m > 0 && m % 1440 === 0 ? 1440 : m > 0 && m % 60 === 0 ? 60 : 1);
  const [unit, setUnit] = useState(unitOf(value));
  const shown = Number.isFinite(value) ? value / unit : NaN;
  return (
    <label class="field field-inline">
      <span>{label}</span>
      <span class="mins">
        <input
          type="number"
          min={1}
          step={1}
          inputMode="numeric"
          name="sla-amount"
          value={Number.isFinite(shown) ? String(shown) : ""}
          disabled={disabled}
          onInput={(e) => onChange(Math.round(Number(e.currentTarget.value) * unit))}
        />
        <select
          name="sla-unit"
          aria-label={tr("Unit of time")}
          value={String(unit)}
          disabled={disabled}
          onChange={(e) => {
            const u = Number(e.currentTarget.value);
            setUnit(u);
            if (Number.isFinite(shown)) onChange(Math.round(shown * u));
          }}
        >
          <option value="1">{tr("minutes")}</option>
          <option value="60">{tr("hours")}</option>
          <option value="1440">{tr("days")}</option>
        </select>
      </span>
    </label>
  );
}

function TargetFields({ t, onChange, disabled }: { t: SlaTarget; onChange: (t: SlaTarget) => void; disabled: boolean }) {
  return (
    <>
      <MinutesField label={tr("Respond within")} value={t.respond_within_mins} disabled={disabled} onChange={(n) => onChange({ ...t, respond_within_mins: n })} />
      <MinutesField label={tr("Resolve within")} value={t.resolve_within_mins} disabled={disabled} onChange={(n) => onChange({ ...t, resolve_within_mins: n })} />
      <label class="field field-check">
        <input type="checkbox" checked={!!t.around_the_clock} disabled={disabled} onChange={(e) => onChange({ ...t, around_the_clock: e.currentTarget.checked })} />
        {tr("Around the clock")}
      </label>
    </>
  );
}

function SlaEditor({ editable }: { editable: boolean }) {
  const res = useResource<SlaPolicy>("/settings/sla");
  const [p, setP] = useState<SlaPolicy | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const act = useAction();
  useEffect(() => {
    if (res.data) setP(JSON.parse(JSON.stringify(res.data)) as SlaPolicy);
  }, [res.data]);

  if (res.error && !res.data) {
    return (
      <section class="panel" id="sla" aria-labelledby="h-sla">
        <h2 id="h-sla">{tr("SLA policy")}</h2>
        <Problem error={res.error} what={tr("SLA policy")} onRetry={res.reload} />
      </section>
    );
  }
  if (!p) {
    return (
      <section class="panel" id="sla" aria-labelledby="h-sla">
        <h2 id="h-sla">{tr("SLA policy")}</h2>
        <Loading />
      </section>
    );
  }
  const ro = !editable;
  const setRule = (i: number, r: SlaRule) => setP({ ...p, rules: p.rules.map((x, j) => (j === i ? r : x)) });
  const bh = p.business_hours;
  const bad = [p.default, ...p.rules.map((r) => r.target)].some(
    (t) => !(t.respond_within_mins > 0) || !(t.resolve_within_mins > 0) || !Number.isInteger(t.respond_within_mins) || !Number.isInteger(t.resolve_within_mins),
  );
  const badHours = !!bh && (!(hhmm(bh.end) > hhmm(bh.start)) || bh.weekdays.length === 0);
  const pairs = p.rules.map((r) => `${r.category ?? "*"}|${r.priority ?? "*"}`);
  const dup = pairs.some((k, i) => pairs.indexOf(k) !== i);

  const save = async (e: Event) => {
    e.preventDefault();
    if (bad || badHours || dup) return;
    setSaved(null);
    const body: SlaPolicy = {
      ...p,
      business_hours: bh ? { ...bh, start: hhmm(bh.start), end: hhmm(bh.end), holidays: (bh.holidays ?? []).filter(Boolean) } : null,
    };
    const r = await act.run(() => api<SlaPolicy>("/settings/sla", { method: "PUT", body }));
    if (r) {
      res.set(r);
      setSaved(tr("Saved {v0}. New tickets use this policy.", { v0: formatDateTime(new Date().toISOString()) }));
    }
  };

  return (
    <section class="panel" id="sla" aria-labelledby="h-sla">
      <h2 id="h-sla">{tr("SLA policy")}</h2>
      <p class="muted">
        {tr("How fast a ticket must get a first response and be resolved. The most specific rule wins: category + priority, then category, then priority, then the default.")}{ro ? tr(" Only administrators can change it.") : ""}
      </p>
      <form class="form" onSubmit={save}>
        <fieldset class="fieldset">
          <legend>{tr("Default")}</legend>
          <div class="sla-row">
            <TargetFields t={p.default} disabled={ro} onChange={(t) => setP({ ...p, default: t })} />
          </div>
        </fieldset>

        <fieldset class="fieldset">
          <legend>{tr("Rules")}</legend>
          {p.rules.length === 0 ? <p class="muted">{tr("No rules: every ticket gets the default.")}</p> : null}
          <ul class="sla-rules">
            {p.rules.map((r, i) => (
              <li key={i} class="sla-row" data-rule={i}>
                <label class="field field-inline">
                  <span>{tr("Category")}</span>
                  <select value={r.category ?? ""} disabled={ro} onChange={(e) => setRule(i, { ...r, category: e.currentTarget.value || null })}>
                    <option value="">{tr("Any")}</option>
                    {CATEGORIES.map((c) => (
                      <option key={c} value={c}>
                        {humanize(c)}
                      </option>
                    ))}
                  </select>
                </label>
                <label class="field field-inline">
                  <span>{tr("Priority")}</span>
                  <select value={r.priority ?? ""} disabled={ro} onChange={(e) => setRule(i, { ...r, priority: e.currentTarget.value || null })}>
                    <option value="">{tr("Any")}</option>
                    {PRIORITIES.map((c) => (
                      <option key={c} value={c}>
                        {humanize(c)}
                      </option>
                    ))}
                  </select>
                </label>
                <TargetFields t={r.target} disabled={ro} onChange={(t) => setRule(i, { ...r, target: t })} />
                {ro ? null : (
                  <button
                    type="button"
                    class="btn btn-small btn-quiet"
                    onClick={() => setP({ ...p, rules: p.rules.filter((_, j) => j !== i) })}
                    aria-label={tr("Remove rule {v0}", { v0: i + 1 })}
                  >
                    {tr("Remove")}
                  </button>
                )}
              </li>
            ))}
          </ul>
          {ro ? null : (
            <button
              type="button"
              class="btn btn-small"
              onClick={() => setP({ ...p, rules: [...p.rules, { category: null, priority: null, target: { ...p.default } }] })}
            >
              {tr("Add rule")}
            </button>
          )}
        </fieldset>

        <fieldset class="fieldset">
          <legend>{tr("Business hours")}</legend>
          <label class="field field-check">
            <input
              type="checkbox"
              checked={!!bh}
              disabled={ro}
              onChange={(e) =>
                setP({
                  ...p,
                  business_hours: e.currentTarget.checked ? { start: "08:00", end: "18:00", weekdays: WEEKDAYS.slice(0, 5), holidays: [] } : null,
                })
              }
            />
            {tr("Count SLA time only in business hours (except rules marked “around the clock”)")}
          </label>
          {bh ? (
            <div class="bh">
              <div class="sla-row">
                <label class="field field-inline">
                  <span>{tr("Start")}</span>
                  <input type="time" value={hhmm(bh.start)} disabled={ro} onInput={(e) => setP({ ...p, business_hours: { ...bh, start: e.currentTarget.value } })} />
                </label>
                <label class="field field-inline">
                  <span>{tr("End")}</span>
                  <input type="time" value={hhmm(bh.end)} disabled={ro} onInput={(e) => setP({ ...p, business_hours: { ...bh, end: e.currentTarget.value } })} />
                </label>
              </div>
              <div class="weekdays" role="group" aria-label={tr("Working days")}>
                {WEEKDAYS.map((d) => (
                  <label key={d} class="field field-check">
                    <input
                      type="checkbox"
                      checked={bh.weekdays.includes(d)}
                      disabled={ro}
                      onChange={(e) =>
                        setP({
                          ...p,
                          business_hours: {
                            ...bh,
                            weekdays: e.currentTarget.checked ? WEEKDAYS.filter((w) => w === d || bh.weekdays.includes(w)) : bh.weekdays.filter((w) => w !== d),
                          },
                        })
                      }
                    />
                    {d}
                  </label>
                ))}
              </div>
              <label class="field">
                <span>{tr("Public holidays")}</span>
                <textarea
                  rows={2}
                  disabled={ro}
                  value={(bh.holidays ?? []).join(", ")}
                  placeholder="2026-12-25, 2027-01-01"
                  onInput={(e) =>
                    setP({
                      ...p,
                      business_hours: {
                        ...bh,
                        holidays: e.currentTarget.value
                          .split(/[,\s]+/)
                          .map((x) => x.trim())
                          .filter(Boolean),
                      },
                    })
                  }
                />
                <small class="field-hint">{tr("Dates as YYYY-MM-DD, separated by commas.")}</small>
              </label>
            </div>
          ) : null}
        </fieldset>

        {bad ? <p class="form-error">{tr("Every time must be a whole number of minutes above zero.")}</p> : null}
        {dup ? <p class="form-error">{tr("Two rules have the same category and priority; keep one of them.")}</p> : null}
        {badHours ? <p class="form-error">{tr("Business hours need an end after the start and at least one working day.")}</p> : null}
        <ActionError error={act.error} />
        {saved ? (
          <p class="notice notice-ok" role="status">
            {saved}
          </p>
        ) : null}
        {ro ? null : (
          <div class="dialog-actions">
            <button type="button" class="btn" disabled={act.busy} onClick={() => res.data && setP(JSON.parse(JSON.stringify(res.data)) as SlaPolicy)}>
              {tr("Undo changes")}
            </button>
            <button type="submit" class="btn btn-primary" disabled={act.busy || bad || badHours || dup} aria-busy={act.busy}>
              {act.busy ? tr("Saving…") : tr("Save policy")}
            </button>
          </div>
        )}
      </form>
      <p class="muted small">{tr("Business hours are in the appliance's time zone (")}{timeZone()}).</p>
    </section>
  );
}
