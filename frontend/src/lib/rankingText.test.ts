import { criteriaRankings, formatRanking, parseRankingText } from "./rankingText";

describe("ranking text", () => {
  const ids = [5, 6, 7];
  it("parses ranks and ties into response ids", () => {
    expect(parseRankingText("2 > 1 = 3", ids)).toEqual([[6], [5, 7]]);
    expect(formatRanking([[6], [5, 7]], ids)).toBe("2 > 1 = 3");
  });
  it("names the problem", () => {
    expect(() => parseRankingText("1 > 4", ids)).toThrow(/not a response number/);
    expect(() => parseRankingText("1 > 1 > 2", ids)).toThrow(/appears twice/);
    expect(() => parseRankingText("1 > 2", ids)).toThrow(/missing: 3/);
  });
});

describe("criteriaRankings", () => {
  const ids = [11, 12, 13];
  it("keeps valid rankings, skips empty boxes and names the first problem", () => {
    expect(criteriaRankings({ helpfulness: "2 > 1 = 3", honesty: " " }, ids)).toEqual({
      criteria: { helpfulness: [[12], [11, 13]] },
      problem: "",
    });
    const { criteria, problem } = criteriaRankings({ helpfulness: "1 > 2", harmlessness: "3 > 3 > 1" }, ids);
    expect(criteria).toEqual({});
    expect(problem).toBe("helpfulness: Rank every response; missing: 3.");
  });
});
