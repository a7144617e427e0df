import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api";
import { toApiError } from "../hooks";
import { Icon } from "./Icon";
import { t } from "../i18n";

/**
 * A modal dialog on the native <dialog> element (focus trap, Esc, inert page for free). On phones it is a bottom
 * sheet. Focus returns to whatever opened it.
 */
export function Dialog({
  title,
  onClose,
  children,
  wide,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(null);
  useEffect(() => {
    opener.current = document.activeElement;
    const d = ref.current;
    if (d && !d.open) {
      if (typeof d.showModal === "function") d.showModal();
      else d.setAttribute("open", "");
    }
    document.body.classList.add("no-scroll");
    return () => {
      document.body.classList.remove("no-scroll");
      const el = opener.current as HTMLElement | null;
      if (el && el.isConnected && typeof el.focus === "function") el.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class={`dialog${wide ? " dialog-wide" : ""}`}
      aria-label={title}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      onClick={(e) => {
        // A click on the backdrop (outside the panel) closes.
        if (e.target === e.currentTarget) onClose();
      }}
    >
      <div class="dialog-panel">
        <div class="dialog-head">
          <h2>{title}</h2>
          <button type="button" class="btn btn-quiet dialog-close" onClick={onClose} aria-label={t("Close")}>
            <Icon name="close" size={18} />
          </button>
        </div>
        <div class="dialog-body">{children}</div>
      </div>
    </dialog>
  );
}

/** Runs one write at a time and keeps its error message for display. */
export function useAction(): {
  busy: boolean;
  error: ApiError | null;
  run: <T>(fn: () => Promise<T>) => Promise<T | undefined>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const live = useRef(true);
  useEffect(
    () => () => {
      live.current = false;
    },
    [],
  );
  return {
    busy,
    error,
    clear: () => setError(null),
    run: async <T,>(fn: () => Promise<T>) => {
      setBusy(true);
      setError(null);
      try {
        const r = await fn();
        if (live.current) setBusy(false);
        return r;
      } catch (e) {
        if (live.current) {
          setError(toApiError(e));
          setBusy(false);
        }
        return undefined;
      }
    },
  };
}

/** The error of a write, worded for people: 409 messages from the server are shown as they are. */
export function ActionError({ error }: { error: ApiError | null }) {
  if (!error) return null;
  const text = error.forbidden
    ? t("Your role does not allow this change.")
    : error.status === 404
      ? t("Not found: {message}", { message: error.message })
      : error.message;
  return (
    <p class="form-error" role="alert">
      {text}
    </p>
  );
}

/** Buttons at the end of a dialog form. */
export function DialogActions({
  busy,
  submit,
  onCancel,
  danger,
  disabled,
}: {
  busy: boolean;
  submit: string;
  onCancel: () => void;
  danger?: boolean;
  /** Not ready to submit (e.g. nothing chosen yet); unlike `busy`, says nothing about saving. */
  disabled?: boolean;
}) {
  return (
    <div class="dialog-actions">
      <button type="button" class="btn" onClick={onCancel} disabled={busy}>
        {t("Cancel")}
      </button>
      <button type="submit" class={`btn ${danger ? "btn-danger" : "btn-primary"}`} disabled={busy || disabled} aria-busy={busy}>
        {busy ? t("Saving…") : submit}
      </button>
    </div>
  );
}

/** Asks before a change that cannot be undone, in the app's own dialog. */
export function ConfirmDialog({
  title,
  text,
  submit,
  run,
  onClose,
  onDone,
}: {
  title: string;
  text: string;
  submit: string;
  run: () => Promise<unknown>;
  onClose: () => void;
  onDone: () => void;
}) {
  const act = useAction();
  return (
    <Dialog title={title} onClose={onClose}>
      <form
        class="form"
        data-testid="confirm"
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await act.run(run);
          if (r !== undefined) onDone();
        }}
      >
        <p>{text}</p>
        <ActionError error={act.error} />
        <DialogActions busy={act.busy} submit={submit} onCancel={onClose} danger />
      </form>
    </Dialog>
  );
}
