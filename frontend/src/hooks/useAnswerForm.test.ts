import { act, renderHook } from "@testing-library/react";
import type { TaskType } from "../api/types";
import { useAnswerForm } from "./useAnswerForm";

function renderAnswer(taskType: TaskType, ids: number[]) {
  return renderHook(({ type, responseIds }) => useAnswerForm(type, responseIds), { initialProps: { type: taskType, responseIds: ids } });
}

describe("useAnswerForm", () => {
  it("takes a pairwise verdict from keys and says which keys it used", () => {
    const { result } = renderAnswer("pairwise", [1, 2]);
    expect(result.current.kind).toBe("pairwise");
    let used: boolean[] = [];
    act(() => {
      used = ["1", "x", "3"].map((key) => result.current.pressKey(key));
    });
    expect(used).toEqual([true, false, true]);
    expect(result.current.form.pairwise).toEqual({ choice: "A", strength: 3 });
    expect(result.current.complete).toBe(true);
  });

  it("counts keys pressed faster than the page renders", () => {
    const { result } = renderAnswer("ranking", [7, 8, 9]);
    act(() => {
      // one render for all three: each key still lands on the state the one before left
      for (const key of ["2", "3", "1"]) result.current.pressKey(key);
    });
    expect(result.current.form.ranking.tiers).toEqual([[8], [9], [7]]);
    expect(result.current.complete).toBe(true);
  });

  it("starts empty for each task shown, or with the answer being changed", () => {
    const { result } = renderAnswer("pairwise", [1, 2]);
    act(() => {
      result.current.pressKey("2");
      result.current.edit({ rationale: "B cites a source." });
    });
    act(() => result.current.show([1, 2]));
    expect(result.current.form.pairwise.choice).toBeNull();
    expect(result.current.form.rationale).toBe("");
    act(() => result.current.show([1, 2], { client_id: "old", ranking: [[1, 2]], rationale: "Same." }));
    expect(result.current.form.pairwise).toEqual({ choice: "tie", strength: null });
    expect(result.current.form.rationale).toBe("Same.");
  });

  it("is complete for a demonstration only once something is written", () => {
    const { result } = renderAnswer("demonstration", []);
    expect(result.current.pressKey("1")).toBe(false);
    expect(result.current.complete).toBe(false);
    act(() => result.current.edit({ demoText: "An answer." }));
    expect(result.current.complete).toBe(true);
  });
});
