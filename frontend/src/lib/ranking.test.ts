import { EMPTY_RANKING, moveTo, rankingComplete, rankingKey, undoLast, unranked } from "./ranking";

const shown = [10, 20, 30, 40];
const keys = (...pressed: string[]) => pressed.reduce((state, key) => rankingKey(state, key, shown), EMPTY_RANKING);

describe("ranking of K", () => {
  it("places responses in order with number keys", () => {
    expect(keys("3", "1", "4", "2").tiers).toEqual([[30], [10], [40], [20]]);
    expect(rankingComplete(keys("3", "1", "4", "2"), shown)).toBe(true);
    expect(rankingComplete(keys("3", "1"), shown)).toBe(false);
    expect(unranked(keys("3", "1"), shown)).toEqual([20, 40]);
  });

  it("ties the next one with the last rank after '='", () => {
    expect(keys("2", "=", "4", "1").tiers).toEqual([[20, 40], [10]]);
  });

  it("re-placing a response moves it, and Backspace takes back the last", () => {
    expect(keys("1", "2", "1").tiers).toEqual([[20], [10]]);
    expect(keys("1", "2", "Backspace").tiers).toEqual([[10]]);
    expect(undoLast(EMPTY_RANKING).tiers).toEqual([]);
  });

  it("ignores numbers beyond K", () => {
    expect(keys("9").tiers).toEqual([]);
  });

  it("drag and drop: onto a rank ties, between ranks inserts", () => {
    const state = keys("1", "2", "3");
    expect(moveTo(state, 30, 0, false).tiers).toEqual([[10, 30], [20]]);
    expect(moveTo(state, 30, 0, true).tiers).toEqual([[30], [10], [20]]);
    // Moving the only member of rank 1 down below rank 2 keeps the rest in order.
    expect(moveTo(state, 10, 2, true).tiers).toEqual([[20], [10], [30]]);
    expect(moveTo(state, 40, 3, true).tiers).toEqual([[10], [20], [30], [40]]);
  });
});
