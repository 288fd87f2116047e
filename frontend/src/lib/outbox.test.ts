import { flushOutbox, pendingSubmits, sendReliably, setOutboxOwner } from "./outbox";

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

describe("sendReliably", () => {
  beforeEach(() => localStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("retries a network failure with the same client_id until the server answers", async () => {
    const bodies: string[] = [];
    const fetchMock = vi.fn(async (_url: string, init: RequestInit) => {
      bodies.push(String(init.body));
      if (bodies.length < 3) throw new TypeError("Failed to fetch");
      return jsonResponse(201, { id: 9 });
    });
    vi.stubGlobal("fetch", fetchMock);
    const retries: number[] = [];
    const result = await sendReliably<{ id: number }>("/api/x/", { client_id: "c-1", ranking: [] }, { delaysMs: [1], onRetry: (n) => retries.push(n) });
    expect(result.data.id).toBe(9);
    expect(retries).toEqual([2, 3]);
    expect(new Set(bodies.map((b) => JSON.parse(b).client_id))).toEqual(new Set(["c-1"]));
    expect(pendingSubmits()).toEqual([]);
  });

  it("does not retry a refusal and drops it from the outbox", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => jsonResponse(409, { detail: "This assignment is expired." })));
    await expect(sendReliably("/api/x/", { client_id: "c-2" }, { delaysMs: [1] })).rejects.toThrow("expired");
    expect(pendingSubmits()).toEqual([]);
  });

  it("keeps an unsent submit for later after the attempts run out", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => { throw new TypeError("offline"); }));
    await expect(sendReliably("/api/x/", { client_id: "c-3" }, { delaysMs: [1], maxAttempts: 2 })).rejects.toThrow(/Network error/);
    expect(pendingSubmits().map((p) => p.clientId)).toEqual(["c-3"]);
  });
});

describe("flushOutbox", () => {
  beforeEach(() => localStorage.clear());
  afterEach(() => {
    vi.unstubAllGlobals();
    setOutboxOwner(null);
  });

  it("re-sends only the logged-in user's pending submits", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => { throw new TypeError("offline"); }));
    setOutboxOwner("ann");
    await expect(sendReliably("/api/a/", { client_id: "mine" }, { delaysMs: [1], maxAttempts: 1 })).rejects.toThrow();
    setOutboxOwner("bob");
    await expect(sendReliably("/api/b/", { client_id: "theirs" }, { delaysMs: [1], maxAttempts: 1 })).rejects.toThrow();

    const sent: string[] = [];
    vi.stubGlobal("fetch", vi.fn(async (url: string) => {
      sent.push(url);
      return jsonResponse(200, { id: 1 });
    }));
    setOutboxOwner("ann");
    expect(await flushOutbox()).toBe(1);
    expect(sent).toEqual(["/api/a/"]);
    expect(pendingSubmits().map((p) => p.clientId)).toEqual(["theirs"]);
  });
});
