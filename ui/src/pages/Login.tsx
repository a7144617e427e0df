import { useRef, useState } from "preact/hooks";
import { ApiError } from "../api";
import { useAuth } from "../auth";
import { useDocumentTitle } from "../hooks";
import { navigate } from "../router";
import { t } from "../i18n";

export function safeNext(raw: string | null): string {
  // Only same-app paths: never "//host" or "http:…" (open redirect).
  if (!raw || !raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\") || raw.startsWith("/login")) return "/";
  return raw;
}

export function Login({ next, expired, startupError }: { next: string; expired?: boolean; startupError?: ApiError }) {
  useDocumentTitle(t("Sign in"));
  const { login } = useAuth();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const passwordRef = useRef<HTMLInputElement>(null);
  const [error, setError] = useState<string | null>(
    startupError ? t("tapak could not check your session: {message}", { message: startupError.message }) : null,
  );

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    if (!username.trim() || !password) {
      setError(t("Enter your username and password."));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await login(username.trim(), password);
      navigate(safeNext(next), { replace: true });
    } catch (err) {
      const ae = err instanceof ApiError ? err : null;
      if (ae?.status === 401 || ae?.status === 400) setError(t("Wrong username or password."));
      else if (ae?.status === 429)
        setError(
          t("Too many sign-in attempts. Wait {v0} and try again.", { v0: ae.retryAfter ? `${ae.retryAfter} seconds` : "a minute" }),
        );
      else setError(ae?.message ?? t("Sign-in failed. Try again."));
      setPassword("");
      setBusy(false);
      setTimeout(() => passwordRef.current?.focus(), 0);
    }
  };

  return (
    <div class="login-page">
      <form class="login-card" onSubmit={submit} noValidate aria-labelledby="login-title">
        <div class="login-brand">
          <span class="brand-mark" aria-hidden="true">
            t
          </span>
          <span class="brand-name">{t("tapak")}</span>
        </div>
        <h1 id="login-title">{t("Sign in")}</h1>
        <p class="login-sub">{t("Facility operations from your WhatsApp groups.")}</p>
        {expired && !error ? (
          <p class="notice" role="status">
            {t("Your session ended. Please sign in again.")}
          </p>
        ) : null}
        {error ? (
          <p class="form-error" role="alert" id="login-error">
            {error}
          </p>
        ) : null}
        <label class="field">
          <span>{t("Username")}</span>
          <input
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            spellcheck={false}
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "login-error" : undefined}
            required
            autoFocus
          />
        </label>
        <label class="field">
          <span>{t("Password")}</span>
          <input
            ref={passwordRef}
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "login-error" : undefined}
            required
          />
        </label>
        <button type="submit" class="btn btn-primary btn-block" disabled={busy} aria-busy={busy}>
          {busy ? t("Signing in…") : t("Sign in")}
        </button>
      </form>
    </div>
  );
}
