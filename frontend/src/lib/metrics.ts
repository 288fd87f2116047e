/** Metric curves from a training job's history: one series per numeric metric, against the step. */
import type { Series } from "../components/Charts";

const STEP_KEYS = ["step", "global_step", "iteration", "epoch_step"];

export function metricSeries(history: Record<string, unknown>[] | undefined): Series[] {
  if (!history?.length) return [];
  const names = new Set<string>();
  for (const row of history) {
    for (const [key, value] of Object.entries(row)) {
      if (!STEP_KEYS.includes(key) && typeof value === "number" && Number.isFinite(value)) names.add(key);
    }
  }
  return [...names].sort().map((name) => ({
    name,
    points: history
      .map((row, index) => {
        const stepKey = STEP_KEYS.find((key) => typeof row[key] === "number");
        const x = stepKey ? (row[stepKey] as number) : index;
        const y = typeof row[name] === "number" ? (row[name] as number) : null;
        return { x, y };
      })
      .filter((point) => point.y !== null),
  }));
}

export function isLive(status: string | undefined): boolean {
  return status === "queued" || status === "running";
}
