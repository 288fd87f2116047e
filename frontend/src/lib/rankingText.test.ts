import { formatRanking, parseRankingText } from "./rankingText";

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
