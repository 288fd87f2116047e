import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { api, getToken, setToken } from "./api/client";
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
  logout: () => void;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [loading, setLoading] = useState(Boolean(getToken()));

  useEffect(() => {
    if (!getToken()) return;
    api
      .get<Me>("/api/me/")
      .then(({ data }) => setMe(signedIn(data)))
      .catch(() => setToken(null))
      .finally(() => setLoading(false));
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const { data } = await api.post<{ token: string }>("/api/auth/token/", { username, password });
    setToken(data.token);
    const profile = await api.get<Me>("/api/me/");
    setMe(signedIn(profile.data));
  }, []);

  const logout = useCallback(() => {
    setToken(null);
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
