import type { ComponentChildren } from "preact";
import type { ApiError } from "../api";
import { Icon } from "./Icon";
import { t } from "../i18n";

export function Loading({ label = t("Loading…") }: { label?: string }) {
  return (
    <div class="state state-loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export function Empty({ title, children, icon = "inbox" }: { title: string; children?: ComponentChildren; icon?: string }) {
  return (
    <div class="state state-empty">
      <Icon name={icon} size={28} />
      <p class="state-title">{title}</p>
      {children ? <p class="state-body">{children}</p> : null}
    </div>
  );
}

/** Turns an API failure into a calm message: not available yet (404), not allowed (403), offline, or an error. */
export function Problem({ error, what, onRetry }: { error: ApiError; what: string; onRetry?: () => void }) {
  if (error.notAvailable) {
    return (
      <div class="state state-empty" data-state="not-available">
        <Icon name="clock" size={28} />
        <p class="state-title">{what}{" "}{t("— not available yet")}</p>
        <p class="state-body">{t("This part of tapak is not switched on in this version. Nothing is wrong; it will appear here once it is.")}</p>
      </div>
    );
  }
  if (error.forbidden) {
    return (
      <div class="state state-empty" data-state="forbidden">
        <Icon name="user" size={28} />
        <p class="state-title">{what}{" "}{t("— not for your role")}</p>
        <p class="state-body">{t("Ask an administrator if you need to see this.")}</p>
      </div>
    );
  }
  return (
    <div class="state state-error" role="alert" data-state="error">
      <Icon name="issue" size={28} />
      <p class="state-title">{what}{" "}{t("could not be loaded")}</p>
      <p class="state-body">{error.message}</p>
      {onRetry ? (
        <button type="button" class="btn" onClick={onRetry}>
          <Icon name="refresh" size={16} />{" "}{t("Try again")}
        </button>
      ) : null}
    </div>
  );
}

export function LoadMore({ hasMore, loading, onClick, count }: { hasMore: boolean; loading: boolean; onClick: () => void; count: number }) {
  if (!hasMore) {
    return count > 0 ? <p class="list-end">{t("That's everything (")}{count}).</p> : null;
  }
  return (
    <div class="load-more">
      <button type="button" class="btn" onClick={onClick} disabled={loading} aria-busy={loading}>
        {loading ? t("Loading…") : t("Load more")}
      </button>
    </div>
  );
}
