import { mainFields, readField, writeField } from "./hyperparameters";

describe("main hyperparameter fields", () => {
  const [seed, rewardEpochs] = mainFields("ppo");
  it("read and write nested options without touching the others", () => {
    const values = { seed: 1, reward: { epochs: 2, batch_size: 4 } };
    expect(readField(values, rewardEpochs)).toBe("2");
    expect(writeField(values, rewardEpochs, "3")).toEqual({ seed: 1, reward: { epochs: 3, batch_size: 4 } });
    expect(writeField(values, seed, "")).toEqual({ reward: { epochs: 2, batch_size: 4 } });
    expect(writeField({ reward: { epochs: 2 } }, rewardEpochs, "")).toEqual({});
  });
  it("offers the options of the chosen algorithm", () => {
    expect(mainFields("dpo").map((f) => f.option)).toContain("beta");
    expect(mainFields("ppo").some((f) => f.option === "target_kl")).toBe(true);
  });
});
