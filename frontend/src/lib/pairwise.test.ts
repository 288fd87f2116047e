import { choiceFromRanking, pairwiseComplete, pairwiseJudgement, pairwiseKey, EMPTY_PAIRWISE } from "./pairwise";

const press = (...keys: string[]) => keys.reduce(pairwiseKey, EMPTY_PAIRWISE);

describe("pairwise keys", () => {
  it("picks the outcome, then the strength", () => {
    expect(press("2")).toEqual({ choice: "B", strength: null });
    expect(press("2", "4")).toEqual({ choice: "B", strength: 4 });
    expect(pairwiseComplete(press("2"))).toBe(false);
    expect(pairwiseComplete(press("2", "4"))).toBe(true);
  });

  it("needs no strength for a tie or both bad, and a later digit re-picks", () => {
    expect(pairwiseComplete(press("3"))).toBe(true);
    expect(press("3", "1")).toEqual({ choice: "A", strength: null });
    expect(press("4")).toEqual({ choice: "both_bad", strength: null });
  });

  it("ignores keys other than 1-4", () => {
    expect(press("5", "x")).toEqual(EMPTY_PAIRWISE);
  });

  it("turns screen sides into response ids", () => {
    const shown: [number, number] = [42, 7];
    expect(pairwiseJudgement(press("1", "3"), shown)).toEqual({ ranking: [[42], [7]], both_bad: false, strength: 3 });
    expect(pairwiseJudgement(press("2", "1"), shown)).toEqual({ ranking: [[7], [42]], both_bad: false, strength: 1 });
    expect(pairwiseJudgement(press("3"), shown)).toEqual({ ranking: [[42, 7]], both_bad: false, strength: null });
    expect(pairwiseJudgement(press("4"), shown)).toEqual({ ranking: [[42, 7]], both_bad: true, strength: null });
  });

  it("reads a stored ranking back into the choice", () => {
    expect(choiceFromRanking([[7], [42]], false, [42, 7])).toBe("B");
    expect(choiceFromRanking([[42], [7]], false, [42, 7])).toBe("A");
    expect(choiceFromRanking([[42, 7]], false, [42, 7])).toBe("tie");
    expect(choiceFromRanking([[42, 7]], true, [42, 7])).toBe("both_bad");
  });
});
