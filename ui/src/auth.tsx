import { createContext } from "preact";
import type { ComponentChildren } from "preact";
import { useCallback, useContext, useEffect, useMemo, useState } from "preact/hooks";
import { api, ApiError, setCsrfToken, setUnauthorizedHandler } from "./api";
import { setTimeZone } from "./format";
import type { User } from "./types";

interface AuthResponse {
  user: User;
  csrf_token?: string | null;
  timezone?: string | null;
}

export type AuthState =
  | { status: "checking" }
  | { status: "anonymous"; expired?: boolean; error?: ApiError }
  | { status: "signed_in"; user: User };

interface AuthApi {
  state: AuthState;
  login: (username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  recheck: () => void;
}

const Ctx = createContext<AuthApi | null>(null);

function accept(r: AuthResponse): User {
  setCsrfToken(r.csrf_token ?? null);
  setTimeZone(r.timezone ?? null);
  return r.user;
}

export function AuthProvider({ children }: { children: ComponentChildren }) {
  const [state, setState] = useState<AuthState>({ status: "checking" });
  const [nonce, setNonce] = useState(0);

  useEffect(() => {
    let live = true;
    api<AuthResponse>("/auth/me", { quiet401: true })
      .then((r) => live && setState({ status: "signed_in", user: accept(r) }))
      .catch((e: unknown) => {
        if (!live) return;
        const err = e instanceof ApiError ? e : undefined;
        // 401 is the normal "please sign in"; anything else we still send to the login page, with the reason.
        setState({ status: "anonymous", error: err && err.status !== 401 ? err : undefined });
      });
    return () => {
      live = false;
    };
  }, [nonce]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrfToken(null);
      setState((s) => (s.status === "signed_in" ? { status: "anonymous", expired: true } : s));
    });
    return () => setUnauthorizedHandler(null);
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const r = await api<AuthResponse>("/auth/login", {
      method: "POST",
      body: { username, password },
      quiet401: true,
    });
    setState({ status: "signed_in", user: accept(r) });
  }, []);

  const logout = useCallback(async () => {
    try {
      await api<unknown>("/auth/logout", { method: "POST", quiet401: true });
    } catch {
      /* the session is gone either way */
    }
    setCsrfToken(null);
    setState({ status: "anonymous" });
  }, []);

  const value = useMemo(
    () => ({ state, login, logout, recheck: () => setNonce((n) => n + 1) }),
    [state, login, logout],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthApi {
  const v = useContext(Ctx);
  if (!v) throw new Error("useAuth outside AuthProvider");
  return v;
}

export function useUser(): User | null {
  const { state } = useAuth();
  return state.status === "signed_in" ? state.user : null;
}

/** What each role may see (the server enforces; the UI only hides what would be refused). */
export function can(
  user: User | null,
  what: "messages" | "settings" | "operational" | "manage" | "directory" | "audit",
): boolean {
  if (!user) return false;
  const role = user.role;
  switch (what) {
    case "settings":
      return role === "admin";
    // Corrections, ticket actions, imports, people/sites/chats/vendors.
    case "manage":
    case "directory":
      return role === "admin" || role === "manager";
    case "messages":
    case "operational":
      return role !== "inspector";
    // Audit ZIPs: everyone but viewers.
    case "audit":
      return role !== "viewer";
  }
}
