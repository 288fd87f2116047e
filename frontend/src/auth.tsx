import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { api } from "./api/client";
import type { Me } from "./api/types";
import { flushOutbox, setOutboxOwner } from "./lib/outbox";

/** Judgements an earlier page of this user could not send go out now, with their client ids. */
function signedIn(me: Me): Me {
  setOutboxOwner(me.username);
  void flushOutbox();
  return me;
}

interface AuthState {
  me: Me | null;
  loading: boolean;
  login: (username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    // The session cookie is HttpOnly: asking the server is how the page learns who is signed in
    // (204: nobody). The answer also sets the CSRF cookie that signing in needs.
    api
      .get<Me | null>("/api/auth/session/")
      .then(({ data }) => setMe(data ? signedIn(data) : null))
      .catch(() => setMe(null))
      .finally(() => setLoading(false));
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const { data } = await api.post<Me>("/api/auth/session/", { username, password });
    setMe(signedIn(data));
  }, []);

  const logout = useCallback(async () => {
    await api.delete("/api/auth/session/").catch(() => undefined); // signed out here either way
    setOutboxOwner(null);
    setMe(null);
  }, []);

  return <AuthContext.Provider value={{ me, loading, login, logout }}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside AuthProvider");
  return state;
}
