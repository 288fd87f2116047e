import { api, csrfToken } from "./client";

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function clearCookies(): void {
  for (const part of document.cookie.split(";")) {
    const name = part.split("=")[0].trim();
    if (name) document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`;
  }
}

describe("api client (session cookie + CSRF header)", () => {
  beforeEach(() => {
    clearCookies();
    localStorage.clear();
  });
  afterEach(() => vi.unstubAllGlobals());

  it("sends writes with the CSRF cookie's value and the session cookie, and no token", async () => {
    document.cookie = "csrftoken=abc%2B123; path=/";
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => jsonResponse(200, { ok: true }));
    vi.stubGlobal("fetch", fetchMock);
    await api.post("/api/auth/session/", { username: "ann", password: "pw" });
    const init = fetchMock.mock.calls[0][1];
    const headers = init.headers as Record<string, string>;
    expect(headers["X-CSRFToken"]).toBe("abc+123");
    expect(headers.Authorization).toBeUndefined();
    expect(init.credentials).toBe("same-origin");
    expect(localStorage.length).toBe(0);
  });

  it("leaves reads without the CSRF header", async () => {
    document.cookie = "csrftoken=abc; path=/";
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => jsonResponse(200, {}));
    vi.stubGlobal("fetch", fetchMock);
    await api.get("/api/me/");
    const headers = fetchMock.mock.calls[0][1].headers as Record<string, string>;
    expect(headers["X-CSRFToken"]).toBeUndefined();
    expect(fetchMock.mock.calls[0][1].credentials).toBe("same-origin");
  });

  it("reads the CSRF cookie among others, and gives '' before it is set", () => {
    expect(csrfToken()).toBe("");
    document.cookie = "other=1; path=/";
    document.cookie = "csrftoken=xyz; path=/";
    expect(csrfToken()).toBe("xyz");
  });

  it("turns a sign-in limit's 429 into its message", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => jsonResponse(429, { detail: "Too many failed sign-in attempts; wait before trying again. Expected available in 42 seconds." })));
    await expect(api.post("/api/auth/session/", {})).rejects.toMatchObject({ status: 429, message: expect.stringContaining("Too many failed sign-in attempts") });
  });
});
