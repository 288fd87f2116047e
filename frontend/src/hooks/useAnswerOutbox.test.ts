import { act, renderHook, waitFor } from "@testing-library/react";
import { ApiError } from "../api/client";
import { pendingSubmits } from "../lib/outbox";
import { useAnswerOutbox } from "./useAnswerOutbox";

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const answer = { client_id: "answer-1", ranking: [[1], [2]], strength: 3, time_spent_ms: 900 };

describe("useAnswerOutbox", () => {
  beforeEach(() => localStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("says it sends again after a network failure, keeps the answer until it arrives, then falls silent", async () => {
    const sentIds: string[] = [];
    let failNext = true;
    vi.stubGlobal(
      "fetch",
      vi.fn(async (_url: string, init: RequestInit) => {
        sentIds.push(JSON.parse(String(init.body)).client_id);
        if (failNext) {
          failNext = false;
          throw new TypeError("Failed to fetch");
        }
        return jsonResponse(201, { id: 41 });
      }),
    );
    const { result } = renderHook(() => useAnswerOutbox());
    let sending!: Promise<{ data: { id: number } }>;
    act(() => {
      sending = result.current.send<{ id: number }>("/api/assignments/7/judgement/", answer);
    });
    await waitFor(() => expect(result.current.notice).toContain("sending your last answer again (attempt 2)"));
    expect(pendingSubmits().map((p) => [p.clientId, p.url])).toEqual([["answer-1", "/api/assignments/7/judgement/"]]);
    await act(async () => {
      expect((await sending).data.id).toBe(41);
    });
    expect(result.current.notice).toBe("");
    expect(sentIds).toEqual(["answer-1", "answer-1"]);
    expect(pendingSubmits()).toEqual([]);
  });

  it("passes a refusal on at once and forgets the answer", async () => {
    const fetchMock = vi.fn(async () => jsonResponse(409, { detail: "This assignment is expired." }));
    vi.stubGlobal("fetch", fetchMock);
    const { result } = renderHook(() => useAnswerOutbox());
    await act(async () => {
      await expect(result.current.send("/api/assignments/8/judgement/", answer)).rejects.toBeInstanceOf(ApiError);
    });
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(result.current.notice).toBe("");
    expect(pendingSubmits()).toEqual([]);
  });
});
