// Settings sections backed by the settings API: WhatsApp connections (with a test message and WAHA's session),
// users and API tokens (administrators), reminder settings (defaults, per-site quiet hours and audience, the reminder
// texts in English and Malay) and vendors with their people.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { ActionError, ConfirmDialog, Dialog, DialogActions, useAction } from "../components/Dialog";
import { Empty, Loading, Problem } from "../components/States";
import { CATEGORIES, formatDateTime, humanize, personName, relative } from "../format";
import { useResource } from "../hooks";
import { t as tr } from "../i18n";
import type { Page, Site, SiteSettings } from "../types";

const enc = (v: string | number) => encodeURIComponent(String(v));

// ---------------------------------------------------------------------------------------------------------
// WhatsApp connections

interface Connection {
  source: "cloud_api" | "waha" | "evolution";
  receiving: boolean;
  sending: boolean;
  missing: string[];
  webhook_url: string | null;
  last_delivery: { received_at: string; outcome: string; error?: string | null } | null;
  session?: string | null;
}

interface WahaSession {
  session: string;
  reachable: boolean;
  status: string | null;
  account: string | null;
  error: string | null;
}

interface Send {
  id: number;
  to: string;
  route: string;
  purpose: string;
  state: string;
  text: string;
  error?: string | null;
  created_at: string;
}

const SOURCE_NAMES: Record<string, string> = {
  cloud_api: "WhatsApp Cloud API (Meta)",
  waha: "WAHA",
  evolution: "Evolution API",
};
const SOURCE_PATHS: Record<string, string> = { cloud_api: "/webhooks/whatsapp", waha: "/webhooks/waha", evolution: "/webhooks/evolution" };

function outcomeText(o: string): string {
  return o === "stored" ? tr("stored") : o === "duplicate" ? tr("duplicate") : o === "malformed" ? tr("malformed") : o === "ignored" ? tr("ignored") : tr("failed");
}

function WahaStatus() {
  const s = useResource<WahaSession>("/settings/connections/waha/session");
  if (s.error && !s.data) return <span class="muted">{s.error.message}</span>;
  if (!s.data) return <span class="muted">{tr("Asking WAHA…")}</span>;
  const d = s.data;
  return d.reachable ? (
    <span data-waha-status={d.status ?? ""}>
      <strong>{d.status ?? "?"}</strong>
      {d.account ? ` · ${d.account}` : ""}
      {d.status !== "WORKING" ? <span class="row-sub">{tr("Not receiving: open WAHA and link the phone again.")}</span> : null}
    </span>
  ) : (
    <span class="form-error" data-waha-status="unreachable">
      {tr("Unreachable")}: {d.error}
    </span>
  );
}

export function Connections({ admin }: { admin: boolean }) {
  const res = useResource<{ public_url: string; items: Connection[] }>("/settings/connections");
  const tests = useResource<Page<Send>>("/outbox", { purpose: "test", limit: 5 });
  const [to, setTo] = useState("");
  const [route, setRoute] = useState("");
  const act = useAction();
  const items = res.data?.items ?? [];
  const senders = items.filter((c) => c.sending);
  const pending = (tests.data?.items ?? []).some((x) => x.state === "queued" || x.state === "sending");
  // While a test message waits, look again every 2 seconds.
  useEffect(() => {
    if (!pending) return;
    const h = window.setTimeout(tests.reload, 2000);
    return () => window.clearTimeout(h);
  }, [pending, tests.data]);
  const send = async (e: Event) => {
    e.preventDefault();
    const r = route || senders[0]?.source;
    if (!r || !to.trim()) return;
    const ok = await act.run(() => api<Send>(`/settings/connections/${enc(r)}/test`, { method: "POST", body: { to: to.trim() } }));
    if (ok) tests.reload();
  };
  return (
    <section class="panel" id="connections" aria-labelledby="h-connections" data-testid="connections">
      <h2 id="h-connections">{tr("WhatsApp connections")}</h2>
      <p class="muted">{tr("Paste the webhook address into Meta's app settings or the gateway. Secrets are set in the appliance's configuration file.")}</p>
      {res.error && !res.data ? (
        <Problem error={res.error} what={tr("WhatsApp connections")} onRetry={res.reload} />
      ) : !res.data ? (
        <Loading />
      ) : (
        <>
          {!res.data.public_url ? <p class="notice">{tr("server.public_url is not set: the addresses below are guessed from this browser's address.")}</p> : null}
          <ul class="rows">
            {items.map((c) => (
              <li key={c.source} class="row conn" data-source={c.source}>
                <div class="row-main">
                  <strong>{SOURCE_NAMES[c.source]}</strong>
                  <span class="row-sub">
                    {c.receiving ? tr("receiving") : tr("not receiving")} · {c.sending ? tr("sending") : tr("not sending")}
                    {c.missing.length > 0 ? ` · ${tr("missing")}: ${c.missing.join(", ")}` : ""}
                  </span>
                  <span class="row-sub">
                    {tr("Webhook address")}: <code class="url">{c.webhook_url ?? `${location.origin}${SOURCE_PATHS[c.source]}`}</code>
                  </span>
                  <span class="row-sub" data-last-delivery="">
                    {tr("Last delivery")}:{" "}
                    {c.last_delivery ? `${formatDateTime(c.last_delivery.received_at)} (${relative(c.last_delivery.received_at)}), ${outcomeText(c.last_delivery.outcome)}` : tr("none received yet")}
                  </span>
                  {c.source === "waha" && c.sending ? (
                    <span class="row-sub">
                      {tr("Session")} {c.session}: <WahaStatus />
                    </span>
                  ) : null}
                </div>
              </li>
            ))}
          </ul>
        </>
      )}
      <h3>{tr("Send a test message")}</h3>
      {!admin ? (
        <p class="muted">{tr("Only administrators can send a test message.")}</p>
      ) : senders.length === 0 ? (
        <p class="muted">{tr("No source is configured for sending yet.")}</p>
      ) : (
        <form class="inline-form" onSubmit={send} data-testid="test-message">
          <label class="field">
            <span>{tr("Phone number")}</span>
            <input name="test-to" type="tel" inputMode="tel" value={to} onInput={(e) => setTo(e.currentTarget.value)} placeholder="+60 12-345 6789" />
          </label>
          <label class="field">
            <span>{tr("Through")}</span>
            <select name="test-route" value={route || senders[0]?.source} onChange={(e) => setRoute(e.currentTarget.value)}>
              {senders.map((c) => (
                <option key={c.source} value={c.source}>
                  {SOURCE_NAMES[c.source]}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" class="btn" disabled={act.busy || !to.trim()}>
            {tr("Send test")}
          </button>
        </form>
      )}
      <ActionError error={act.error} />
      {tests.data && tests.data.items.length > 0 ? (
        <div class="table-wrap" tabIndex={0}>
          <table class="table table-compact" data-testid="test-sends">
            <caption class="visually-hidden">{tr("Test messages")}</caption>
            <thead>
              <tr>
                <th scope="col">{tr("When")}</th>
                <th scope="col">{tr("To")}</th>
                <th scope="col">{tr("State")}</th>
              </tr>
            </thead>
            <tbody>
              {tests.data.items.map((x) => (
                <tr key={x.id} data-row="test-send" data-state={x.state}>
                  <td class="nowrap">{formatDateTime(x.created_at)}</td>
                  <td>
                    +{x.to} · {SOURCE_NAMES[x.route] ?? x.route}
                  </td>
                  <td>
                    {tr(x.state)}
                    {x.error ? <div class="row-sub">{x.error}</div> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

// ---------------------------------------------------------------------------------------------------------
// Users and API tokens

interface UserRow {
  id: number;
  name: string;
  role: string;
  disabled: boolean;
  created_at: string;
}
interface TokenRow {
  id: number;
  name: string;
  role: string;
  created_at: string;
  revoked: boolean;
}
const ROLES = ["admin", "manager", "viewer", "inspector"];

function RoleSelect({ value, onChange, name, label }: { value: string; onChange: (v: string) => void; name: string; label?: string }) {
  return (
    <select name={name} value={value} aria-label={label} onChange={(e) => onChange(e.currentTarget.value)}>
      {ROLES.map((r) => (
        <option key={r} value={r}>
          {humanize(r)}
        </option>
      ))}
    </select>
  );
}

export function UsersAndTokens({ me }: { me: number | null | undefined }) {
  const users = useResource<Page<UserRow>>("/users");
  const tokens = useResource<Page<TokenRow>>("/tokens");
  const [name, setName] = useState("");
  const [role, setRole] = useState("manager");
  const [password, setPassword] = useState("");
  const [tname, setTname] = useState("");
  const [trole, setTrole] = useState("viewer");
  const [created, setCreated] = useState<string | null>(null);
  const [resetting, setResetting] = useState<UserRow | null>(null);
  const [revoking, setRevoking] = useState<TokenRow | null>(null);
  const act = useAction();
  const patch = async (u: UserRow, body: Record<string, unknown>) => {
    const r = await act.run(() => api<UserRow>(`/users/${enc(u.id)}`, { method: "PATCH", body }));
    if (r) users.reload();
  };
  return (
    <section class="panel" id="appliance" aria-labelledby="h-appliance" data-testid="users">
      <h2 id="h-appliance">{tr("Users and API")}</h2>
      <h3>{tr("Users")}</h3>
      {users.error && !users.data ? (
        <Problem error={users.error} what={tr("Users")} onRetry={users.reload} />
      ) : !users.data ? (
        <Loading />
      ) : (
        <ul class="rows">
          {users.data.items.map((u) => (
            <li key={u.id} class="row" data-user={u.name} data-disabled={u.disabled ? "true" : "false"}>
              <div class="row-main">
                <strong>{u.name}</strong>
                <span class="row-sub">
                  {u.disabled ? tr("disabled") : tr("active")}
                  {u.id === me ? ` · ${tr("you")}` : ""}
                </span>
              </div>
              <div class="row-buttons">
                <RoleSelect name="user-role" label={tr("Role of {name}", { name: u.name })} value={u.role} onChange={(r) => patch(u, { role: r })} />
                <button type="button" class="btn btn-small" onClick={() => setResetting(u)}>
                  {tr("Reset password")}
                </button>
                <button type="button" class="btn btn-small" data-action={u.disabled ? "enable" : "disable"} onClick={() => patch(u, { disabled: !u.disabled })}>
                  {u.disabled ? tr("Enable") : tr("Disable")}
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      <form
        class="inline-form"
        data-testid="add-user"
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await act.run(() => api<UserRow>("/users", { method: "POST", body: { name: name.trim(), role, password } }));
          if (r) {
            setName("");
            setPassword("");
            users.reload();
          }
        }}
      >
        <label class="field">
          <span>{tr("New user")}</span>
          <input name="user-name" autoComplete="off" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>{tr("Role")}</span>
          <RoleSelect name="new-user-role" value={role} onChange={setRole} />
        </label>
        <label class="field">
          <span>{tr("Password")}</span>
          <input name="user-password" type="password" autoComplete="new-password" minLength={8} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn" disabled={act.busy || !name.trim() || password.length < 8}>
          {tr("Add user")}
        </button>
      </form>
      <ActionError error={act.error} />

      <h3>{tr("API tokens")}</h3>
      <p class="muted">
        {tr("Scripts and integrations send a token as")} <code>Authorization: Bearer …</code>. {tr("The API is described at")}{" "}
        <a href="/api/v1/openapi.json" target="_blank" rel="noopener">
          /api/v1/openapi.json
        </a>
      </p>
      {tokens.data ? (
        tokens.data.items.length === 0 ? (
          <p class="muted">{tr("No tokens yet.")}</p>
        ) : (
          <ul class="rows">
            {tokens.data.items.map((x) => (
              <li key={x.id} class="row" data-token={x.name}>
                <div class="row-main">
                  <strong>{x.name}</strong>
                  <span class="row-sub">
                    {humanize(x.role)} · {formatDateTime(x.created_at)}
                    {x.revoked ? ` · ${tr("revoked")}` : ""}
                  </span>
                </div>
                {x.revoked ? null : (
                  <button type="button" class="btn btn-small" onClick={() => setRevoking(x)}>
                    {tr("Revoke")}
                  </button>
                )}
              </li>
            ))}
          </ul>
        )
      ) : tokens.error ? (
        <Problem error={tokens.error} what={tr("API tokens")} onRetry={tokens.reload} />
      ) : (
        <Loading />
      )}
      <form
        class="inline-form"
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await act.run(() => api<{ token: string }>("/tokens", { method: "POST", body: { name: tname.trim(), role: trole } }));
          if (r) {
            setTname("");
            setCreated(r.token);
            tokens.reload();
          }
        }}
      >
        <label class="field">
          <span>{tr("New token for")}</span>
          <input name="token-name" value={tname} onInput={(e) => setTname(e.currentTarget.value)} placeholder={tr("e.g. reporting script")} />
        </label>
        <label class="field">
          <span>{tr("Role")}</span>
          <RoleSelect name="token-role" value={trole} onChange={setTrole} />
        </label>
        <button type="submit" class="btn" disabled={act.busy || !tname.trim()}>
          {tr("Create token")}
        </button>
      </form>
      {created ? (
        <p class="notice notice-ok" role="status" data-testid="new-token">
          {tr("Copy the token now; it is not shown again:")} <code class="url">{created}</code>
        </p>
      ) : null}
      {resetting ? (
        <PasswordDialog
          user={resetting}
          onClose={() => setResetting(null)}
          onDone={() => {
            setResetting(null);
            users.reload();
          }}
        />
      ) : null}
      {revoking ? (
        <ConfirmDialog
          title={tr("Revoke token — {name}", { name: revoking.name })}
          text={tr("Requests with this token are refused from now on. This cannot be undone.")}
          submit={tr("Revoke")}
          run={() => api(`/tokens/${enc(revoking.id)}`, { method: "DELETE" })}
          onClose={() => setRevoking(null)}
          onDone={() => {
            setRevoking(null);
            tokens.reload();
          }}
        />
      ) : null}
    </section>
  );
}

function PasswordDialog({ user, onClose, onDone }: { user: UserRow; onClose: () => void; onDone: () => void }) {
  const [pw, setPw] = useState("");
  const act = useAction();
  return (
    <Dialog title={tr("Reset password — {name}", { name: user.name })} onClose={onClose}>
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await act.run(() => api(`/users/${enc(user.id)}`, { method: "PATCH", body: { password: pw } }));
          if (r !== undefined) onDone();
        }}
      >
        <label class="field">
          <span>{tr("New password")}</span>
          <input name="new-password" type="password" autoComplete="new-password" minLength={8} value={pw} onInput={(e) => setPw(e.currentTarget.value)} required />
          <small class="field-hint">{tr("At least 8 characters. The user's other sessions end.")}</small>
        </label>
        <ActionError error={act.error} />
        <DialogActions busy={act.busy} disabled={pw.length < 8} submit={tr("Reset password")} onCancel={onClose} />
      </form>
    </Dialog>
  );
}

// ---------------------------------------------------------------------------------------------------------
// Reminder settings: defaults, per-site overrides, texts

interface ReminderDefaults {
  quiet_hours: string;
  language: string;
  template_name: string;
  route: string;
  audience: string;
  urgent_passes_quiet_hours: boolean;
}
type SiteReminders = { quiet_hours?: string; audience?: string; route?: string; language?: string };

const TEXT_KINDS: { key: string; label: string }[] = [
  { key: "remind", label: tr("Reminder to the assignees") },
  { key: "photo_request", label: tr("Photo request to the reporter") },
  { key: "escalate", label: tr("Escalation") },
  { key: "checkpoints", label: tr("Patrol checkpoints missed") },
  { key: "escalate_checkpoints", label: tr("Patrol escalation") },
];
const AUDIENCES = ["group", "person", "both"];

function audienceText(a: string): string {
  return a === "group" ? tr("the group") : a === "person" ? tr("the person") : tr("the group and the person");
}

export function ReminderSettings({ editable }: { editable: boolean }) {
  const defaults = useResource<ReminderDefaults>("/settings/reminders");
  const sites = useResource<Page<Site>>("/sites", { limit: 500 });
  const [editing, setEditing] = useState<Site | null>(null);
  const d = defaults.data;
  return (
    <>
      <h3>{tr("Defaults")}</h3>
      {d ? (
        <dl class="facts" data-testid="reminder-defaults">
          <div class="fact">
            <dt>{tr("Quiet hours")}</dt>
            <dd>{d.quiet_hours || tr("none")}</dd>
          </div>
          <div class="fact">
            <dt>{tr("Language")}</dt>
            <dd>{d.language === "ms" ? "Bahasa Melayu" : "English"}</dd>
          </div>
          <div class="fact">
            <dt>{tr("Who is reminded")}</dt>
            <dd>{audienceText(d.audience)}</dd>
          </div>
          <div class="fact">
            <dt>{tr("Template outside 24 hours")}</dt>
            <dd>{d.template_name || tr("none")}</dd>
          </div>
        </dl>
      ) : defaults.error ? (
        <Problem error={defaults.error} what={tr("Reminders")} onRetry={defaults.reload} />
      ) : (
        <Loading />
      )}
      <h3>{tr("Per site")}</h3>
      {sites.data ? (
        sites.data.items.length === 0 ? (
          <p class="muted">{tr("No sites yet.")}</p>
        ) : (
          <ul class="rows">
            {sites.data.items.map((s) => {
              const r = ((s.settings ?? {}) as SiteSettings & { reminders?: SiteReminders }).reminders ?? {};
              return (
                <li key={s.id} class="row" data-site-reminders={s.name}>
                  <div class="row-main">
                    <strong>{s.name}</strong>
                    <span class="row-sub">
                      {tr("Quiet hours")}: {r.quiet_hours === undefined ? tr("default") : r.quiet_hours || tr("none")} · {tr("Who is reminded")}:{" "}
                      {r.audience ? audienceText(r.audience) : tr("default")}
                    </span>
                  </div>
                  {editable ? (
                    <button type="button" class="btn btn-small" onClick={() => setEditing(s)}>
                      {tr("Edit")}
                    </button>
                  ) : null}
                </li>
              );
            })}
          </ul>
        )
      ) : (
        <Loading />
      )}
      {editing ? (
        <SiteRemindersDialog
          site={editing}
          onClose={() => setEditing(null)}
          onDone={() => {
            setEditing(null);
            sites.reload();
          }}
        />
      ) : null}
      <ReminderTexts editable={editable} />
    </>
  );
}

function SiteRemindersDialog({ site, onClose, onDone }: { site: Site; onClose: () => void; onDone: () => void }) {
  const current = ((site.settings ?? {}) as SiteSettings & { reminders?: SiteReminders }).reminders ?? {};
  const [own, setOwn] = useState(current.quiet_hours !== undefined);
  const [quiet, setQuiet] = useState(current.quiet_hours ?? "22:00-07:00");
  const [audience, setAudience] = useState(current.audience ?? "");
  const act = useAction();
  return (
    <Dialog title={tr("Reminders at {name}", { name: site.name })} onClose={onClose}>
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          const reminders: SiteReminders = { ...current };
          if (own) reminders.quiet_hours = quiet.trim();
          else delete reminders.quiet_hours;
          if (audience) reminders.audience = audience;
          else delete reminders.audience;
          const settings = { ...(site.settings ?? {}), reminders };
          const r = await act.run(() => api(`/sites/${enc(site.id)}`, { method: "PATCH", body: { settings } }));
          if (r !== undefined) onDone();
        }}
      >
        <label class="field field-check">
          <input type="checkbox" name="own-quiet" checked={own} onChange={(e) => setOwn(e.currentTarget.checked)} />
          {tr("This site has its own quiet hours")}
        </label>
        {own ? (
          <label class="field">
            <span>{tr("Quiet hours")}</span>
            <input name="quiet-hours" value={quiet} onInput={(e) => setQuiet(e.currentTarget.value)} placeholder="22:00-07:00" />
            <small class="field-hint">{tr("Like 22:00-07:00, local time; empty for none. Reminders wait until the end.")}</small>
          </label>
        ) : null}
        <label class="field">
          <span>{tr("Who is reminded")}</span>
          <select name="audience" value={audience} onChange={(e) => setAudience(e.currentTarget.value)}>
            <option value="">{tr("Default")}</option>
            {AUDIENCES.map((a) => (
              <option key={a} value={a}>
                {audienceText(a)}
              </option>
            ))}
          </select>
        </label>
        <ActionError error={act.error} />
        <DialogActions busy={act.busy} submit={tr("Save")} onCancel={onClose} />
      </form>
    </Dialog>
  );
}

function ReminderTexts({ editable }: { editable: boolean }) {
  const res = useResource<Record<string, Record<string, string>>>("/settings/reminder-texts");
  const [lang, setLang] = useState<"en" | "ms">("en");
  const [draft, setDraft] = useState<Record<string, Record<string, string>> | null>(null);
  const [saved, setSaved] = useState(false);
  const act = useAction();
  useEffect(() => {
    if (res.data) setDraft(JSON.parse(JSON.stringify(res.data)) as Record<string, Record<string, string>>);
  }, [res.data]);
  return (
    <>
      <h3>{tr("Reminder texts")}</h3>
      <p class="muted">{tr("Placeholders: {what}, {place}, {schedule}, {assignees}, {checkpoints}. An empty text goes back to the default.")}</p>
      {res.error && !res.data ? (
        <Problem error={res.error} what={tr("Reminder texts")} onRetry={res.reload} />
      ) : !draft ? (
        <Loading />
      ) : (
        <form
          class="form"
          data-testid="reminder-texts"
          onSubmit={async (e) => {
            e.preventDefault();
            setSaved(false);
            const r = await act.run(() => api<Record<string, Record<string, string>>>("/settings/reminder-texts", { method: "PUT", body: draft }));
            if (r) {
              res.set(r);
              setSaved(true);
            }
          }}
        >
          <div class="tabs" role="group" aria-label={tr("Language")}>
            {(["en", "ms"] as const).map((l) => (
              <button key={l} type="button" class="tab" aria-pressed={l === lang} data-lang={l} onClick={() => setLang(l)}>
                {l === "en" ? "English" : "Bahasa Melayu"}
              </button>
            ))}
          </div>
          {TEXT_KINDS.map((k) => (
            <label key={`${lang}-${k.key}`} class="field">
              <span>{k.label}</span>
              <textarea
                name={`text-${lang}-${k.key}`}
                rows={2}
                disabled={!editable}
                value={draft[lang]?.[k.key] ?? ""}
                onInput={(e) => setDraft({ ...draft, [lang]: { ...(draft[lang] ?? {}), [k.key]: e.currentTarget.value } })}
              />
            </label>
          ))}
          <ActionError error={act.error} />
          {saved ? (
            <p class="notice notice-ok" role="status">
              {tr("Saved. The next reminders use these texts.")}
            </p>
          ) : null}
          {editable ? (
            <div class="dialog-actions">
              <button type="submit" class="btn btn-primary" disabled={act.busy}>
                {act.busy ? tr("Saving…") : tr("Save texts")}
              </button>
            </div>
          ) : null}
        </form>
      )}
    </>
  );
}

// ---------------------------------------------------------------------------------------------------------
// Vendors with their people

interface VendorRow {
  id: number;
  name: string;
  trade: string | null;
  people: { id: number; name: string | null; phone: string | null }[];
  open_issues: number;
}

export function Vendors({ editable }: { editable: boolean }) {
  const vendors = useResource<Page<VendorRow>>("/vendors", { limit: 500 });
  const [name, setName] = useState("");
  const [trade, setTrade] = useState("");
  const [renaming, setRenaming] = useState<VendorRow | null>(null);
  const act = useAction();
  const items = vendors.data?.items ?? [];
  return (
    <section class="panel" id="vendors" aria-labelledby="h-vendors">
      <h2 id="h-vendors">{tr("Vendors")}</h2>
      <p class="muted">{tr("A vendor is a contractor firm. Its people are linked under People; tickets and schedules can be assigned to the vendor.")}</p>
      {vendors.error && !vendors.data ? (
        <Problem error={vendors.error} what={tr("Vendors")} onRetry={vendors.reload} />
      ) : !vendors.data ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty title={tr("No vendors yet")} icon="user">
          {tr("Add contractors here, then link their technicians under People.")}
        </Empty>
      ) : (
        <ul class="rows">
          {items.map((v) => (
            <li key={v.id} class="row" data-vendor={v.name}>
              <div class="row-main">
                <strong>{v.name}</strong>
                <span class="row-sub">
                  {v.trade ? humanize(v.trade) : tr("any trade")} · {tr("{n} open tickets", { n: v.open_issues })}
                </span>
                <span class="row-sub" data-vendor-people="">
                  {v.people.length === 0 ? tr("nobody linked yet") : v.people.map((p) => personName(p)).join(", ")}
                </span>
              </div>
              {editable ? (
                <button type="button" class="btn btn-small" onClick={() => setRenaming(v)}>
                  {tr("Edit")}
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {editable ? (
        <form
          class="inline-form"
          onSubmit={async (e) => {
            e.preventDefault();
            if (!name.trim()) return;
            const r = await act.run(() => api<VendorRow>("/vendors", { method: "POST", body: { name: name.trim(), trade: trade || null } }));
            if (r) {
              setName("");
              setTrade("");
              vendors.reload();
            }
          }}
        >
          <label class="field">
            <span>{tr("New vendor")}</span>
            <input name="vendor-name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder={tr("e.g. CoolAir Sdn Bhd")} />
          </label>
          <label class="field">
            <span>{tr("Trade")}</span>
            <TradeSelect name="vendor-trade" value={trade} onChange={setTrade} />
          </label>
          <button type="submit" class="btn" disabled={act.busy || !name.trim()}>
            {tr("Add vendor")}
          </button>
        </form>
      ) : null}
      <ActionError error={act.error} />
      {renaming ? (
        <VendorDialog
          vendor={renaming}
          onClose={() => setRenaming(null)}
          onDone={() => {
            setRenaming(null);
            vendors.reload();
          }}
        />
      ) : null}
    </section>
  );
}

function TradeSelect({ name, value, onChange }: { name: string; value: string; onChange: (v: string) => void }) {
  return (
    <select name={name} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
      <option value="">{tr("Any")}</option>
      {CATEGORIES.map((c) => (
        <option key={c} value={c}>
          {humanize(c)}
        </option>
      ))}
    </select>
  );
}

function VendorDialog({ vendor, onClose, onDone }: { vendor: VendorRow; onClose: () => void; onDone: () => void }) {
  const [name, setName] = useState(vendor.name);
  const [trade, setTrade] = useState(vendor.trade ?? "");
  const act = useAction();
  return (
    <Dialog title={tr("Vendor — {name}", { name: vendor.name })} onClose={onClose}>
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await act.run(() => api(`/vendors/${enc(vendor.id)}`, { method: "PATCH", body: { name: name.trim() || vendor.name, trade: trade || null } }));
          if (r !== undefined) onDone();
        }}
      >
        <label class="field">
          <span>{tr("Name")}</span>
          <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        </label>
        <label class="field">
          <span>{tr("Trade")}</span>
          <TradeSelect name="trade" value={trade} onChange={setTrade} />
        </label>
        <ActionError error={act.error} />
        <DialogActions busy={act.busy} submit={tr("Save")} onCancel={onClose} />
      </form>
    </Dialog>
  );
}
