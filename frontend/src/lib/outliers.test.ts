import { outlierIndexes, pct } from "./outliers";

describe("outliers", () => {
  it("flags the annotator far from the others", () => {
    expect([...outlierIndexes([0.5, 0.52, 0.48, 0.51, 0.95])]).toEqual([4]);
  });
  it("needs at least four values and ignores missing ones", () => {
    expect(outlierIndexes([0.1, 0.9, null]).size).toBe(0);
    expect([...outlierIndexes([0.5, null, 0.5, 0.5, 0.5, 0.9])]).toEqual([5]);
  });
  it("formats percentages", () => {
    expect(pct(0.256, 1)).toBe("25.6%");
    expect(pct(null)).toBe("–");
  });
});
