import { act, renderHook, waitFor } from "@testing-library/react";
import type { NextTask } from "../api/types";
import { useLeasedTasks } from "./useLeasedTasks";

const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

function task(assignmentId: number, expiresAt = inMinutes(15)): NextTask {
  return {
    assignment: { id: assignmentId, expires_at: expiresAt },
    task: { id: assignmentId * 10, prompt: `Question ${assignmentId}`, responses: [{ id: 1, text: "a" }, { id: 2, text: "b" }] },
  };
}

/** A stand-in for the server's /next/ and /prefetch/: answers from the lists given, in order. */
function fakeServer({ next = [] as (NextTask | null)[], ahead = [] as (NextTask | null)[] }) {
  const calls: string[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit) => {
      const endpoint = url.split("/").at(-2) ?? url;
      calls.push(endpoint === "prefetch" ? `prefetch after ${JSON.parse(String(init.body)).after}` : endpoint);
      const answer = endpoint === "next" ? next.shift() : ahead.shift();
      if (answer === undefined) throw new TypeError("Failed to fetch");
      return answer === null ? new Response(null, { status: 204 }) : Response.json(answer, { status: 200 });
    }),
  );
  return calls;
}

async function renderTasks(onEmpty = vi.fn()) {
  const shownIds: number[] = [];
  const hook = renderHook(() => useLeasedTasks(1, { onShow: (t) => shownIds.push(t.next.assignment.id), onEmpty }));
  await waitFor(() => expect(hook.result.current.phase).not.toBe("loading"));
  return { ...hook, shownIds };
}

describe("useLeasedTasks", () => {
  beforeEach(() => localStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("shows the next task and leases the one after it, which appears without asking the server again", async () => {
    const calls = fakeServer({ next: [task(1)], ahead: [task(2), task(3)] });
    const { result, shownIds } = await renderTasks();
    expect(result.current.shown?.next.assignment.id).toBe(1);
    expect(result.current.announcement).toBe("Task 10 is shown.");
    const firstClientId = result.current.shown?.clientId;
    let movedOn = false;
    await act(async () => {
      movedOn = await result.current.advance(1);
    });
    expect(movedOn).toBe(true);
    expect(result.current.shown?.next.assignment.id).toBe(2);
    expect(result.current.shown?.clientId).not.toBe(firstClientId);
    expect(shownIds).toEqual([1, 2]);
    await waitFor(() => expect(calls).toEqual(["next", "prefetch after 1", "prefetch after 2"]));
  });

  it("asks for the task after the next one only once the answer to the last one is recorded", async () => {
    const calls = fakeServer({ next: [task(1)], ahead: [task(2), task(3)] });
    const { result } = await renderTasks();
    let record!: () => void;
    const recorded = new Promise<void>((resolve) => (record = resolve));
    await act(async () => {
      await result.current.advance(1, recorded);
    });
    expect(result.current.shown?.next.assignment.id).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toEqual(["next", "prefetch after 1"]); // while task 1 is a live lease, it would come back
    await act(async () => record());
    await waitFor(() => expect(calls).toEqual(["next", "prefetch after 1", "prefetch after 2"]));
  });

  it("does not start a prefetched lease about to lapse, nor one already finished here", async () => {
    fakeServer({ next: [task(1)], ahead: [task(2, new Date(Date.now() + 3000).toISOString())] });
    const { result } = await renderTasks();
    let movedOn = true;
    await act(async () => {
      movedOn = await result.current.advance(1);
    });
    expect(movedOn).toBe(false);
    expect(result.current.shown?.next.assignment.id).toBe(1);

    fakeServer({ next: [task(5)], ahead: [task(5)] });
    const again = await renderTasks();
    await act(async () => {
      movedOn = await again.result.current.advance(5);
    });
    expect(movedOn).toBe(false); // the server offered the lease just finished as the one ahead
  });

  it("reopens an answered task for a change and then brings back the task it interrupted", async () => {
    const calls = fakeServer({ next: [task(1)], ahead: [task(2), null, task(3)] });
    const { result } = await renderTasks();
    await act(async () => {
      await result.current.advance(1);
    });
    const body = { client_id: "old", ranking: [[1, 2]] };
    act(() => result.current.reopen(task(1), { judgementId: 77, body }));
    expect(result.current.shown?.replacing).toEqual({ judgementId: 77, body });
    expect(result.current.announcement).toBe("Changing your answer to task 10.");
    let movedOn = false;
    await act(async () => {
      movedOn = await result.current.advance(1);
    });
    expect(movedOn).toBe(true);
    expect(result.current.shown?.next.assignment.id).toBe(2);
    expect(result.current.shown?.replacing).toBeUndefined();
    expect(calls.filter((c) => c === "next")).toHaveLength(1);
  });

  it("says when nothing is left, and shares one request between calls made together", async () => {
    const onEmpty = vi.fn();
    const calls = fakeServer({ next: [null, null] });
    const { result } = await renderTasks(onEmpty);
    expect(result.current.phase).toBe("empty");
    expect(result.current.shown).toBeNull();
    expect(onEmpty).toHaveBeenCalledTimes(1);
    await act(async () => {
      await Promise.all([result.current.loadNext(), result.current.loadNext()]);
    });
    expect(calls).toEqual(["next", "next"]);
  });

  it("reports a failure to get the next task", async () => {
    fakeServer({ next: [] });
    const { result } = await renderTasks();
    expect(result.current.phase).toBe("error");
    expect(result.current.loadError).toMatch(/Network error/);
  });
});
