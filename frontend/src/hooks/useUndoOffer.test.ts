import { act, renderHook } from "@testing-library/react";
import type { NextTask } from "../api/types";
import { useUndoOffer, type UndoOffer } from "./useUndoOffer";

function offer(judgementId: number): UndoOffer {
  const next: NextTask = { assignment: { id: judgementId, expires_at: "" }, task: { id: judgementId, prompt: "q", responses: [] } };
  return { judgementId, next, body: { client_id: `c-${judgementId}`, ranking: [] } };
}

describe("useUndoOffer", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("lapses after its time", () => {
    const { result } = renderHook(() => useUndoOffer(10_000));
    act(() => result.current.make(offer(1)));
    act(() => vi.advanceTimersByTime(9_999));
    expect(result.current.offer?.judgementId).toBe(1);
    act(() => vi.advanceTimersByTime(1));
    expect(result.current.offer).toBeNull();
  });

  it("gives a newer answer its full time: the older countdown does not take it away", () => {
    const { result } = renderHook(() => useUndoOffer(10_000));
    act(() => result.current.make(offer(1)));
    act(() => vi.advanceTimersByTime(8_000));
    act(() => result.current.make(offer(2)));
    act(() => vi.advanceTimersByTime(5_000));
    expect(result.current.offer?.judgementId).toBe(2);
    act(() => vi.advanceTimersByTime(5_000));
    expect(result.current.offer).toBeNull();
  });

  it("is gone at once when withdrawn, and its countdown with it", () => {
    const { result } = renderHook(() => useUndoOffer(10_000));
    act(() => result.current.make(offer(1)));
    act(() => result.current.withdraw());
    expect(result.current.offer).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
  });
});
