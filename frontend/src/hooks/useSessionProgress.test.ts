import { act, renderHook, waitFor } from "@testing-library/react";
import { useSessionProgress } from "./useSessionProgress";

const workload = [
  { project: { id: 3, name: "Other", task_type: "pairwise" }, tasks_left: 9 },
  { project: { id: 4, name: "This one", task_type: "pairwise" }, tasks_left: 2 },
];

describe("useSessionProgress", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("starts from the project's tasks left and counts down with each judgement or skip, never below zero", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => Response.json(workload)));
    const { result } = renderHook(() => useSessionProgress(4));
    await waitFor(() => expect(result.current.tasksLeft).toBe(2));
    act(() => result.current.judged(12_000));
    act(() => result.current.skipped());
    act(() => result.current.judged(18_000));
    expect(result.current.session).toEqual({ judged: 2, skipped: 1, timeMs: 30_000 });
    expect(result.current.tasksLeft).toBe(0);
  });

  it("does without the count when the workload cannot be had, until nothing is left", async () => {
    const fetchMock = vi.fn(async () => {
      throw new TypeError("offline");
    });
    vi.stubGlobal("fetch", fetchMock);
    const { result } = renderHook(() => useSessionProgress(4));
    await waitFor(() => expect(fetchMock).toHaveBeenCalled());
    act(() => result.current.judged(1000));
    expect(result.current.tasksLeft).toBeNull();
    act(() => result.current.nothingLeft());
    expect(result.current.tasksLeft).toBe(0);
  });
});
