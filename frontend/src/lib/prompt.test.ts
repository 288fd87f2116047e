import { promptTurns } from "./prompt";
import { leaseStatus } from "./lease";
import { metricSeries } from "./metrics";

describe("promptTurns", () => {
  it("shows a conversation as turns and a text as one user turn", () => {
    expect(promptTurns({ text: "", messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }] })).toHaveLength(2);
    expect(promptTurns({ text: "Just text", messages: null })).toEqual([{ role: "user", content: "Just text" }]);
    expect(promptTurns("plain")).toEqual([{ role: "user", content: "plain" }]);
  });
});

describe("leaseStatus", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it("warns in the last minute and says when the lease is gone", () => {
    expect(leaseStatus("2026-01-01T00:05:00Z", 900, now).kind).toBe("ok");
    expect(leaseStatus("2026-01-01T00:00:30Z", 900, now)).toEqual({ kind: "warning", secondsLeft: 30 });
    expect(leaseStatus("2025-12-31T23:59:59Z", 900, now).kind).toBe("expired");
  });
});

describe("metricSeries", () => {
  it("makes one series per numeric metric against the step", () => {
    const series = metricSeries([{ step: 1, loss: 0.9, accuracy: 0.5 }, { step: 2, loss: 0.7, note: "x" }]);
    expect(series.map((s) => s.name)).toEqual(["accuracy", "loss"]);
    expect(series[1].points).toEqual([{ x: 1, y: 0.9 }, { x: 2, y: 0.7 }]);
  });
});
