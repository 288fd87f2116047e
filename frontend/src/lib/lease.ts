/** When to warn that a task's lease is about to run out. */

export type LeaseStatus = { kind: "ok" } | { kind: "warning"; secondsLeft: number } | { kind: "expired" };

/** Warns in the last minute, or the last quarter of a short lease, whichever is shorter. */
export function leaseStatus(expiresAt: string, leaseSeconds: number, nowMs: number = Date.now()): LeaseStatus {
  const secondsLeft = Math.floor((Date.parse(expiresAt) - nowMs) / 1000);
  if (Number.isNaN(secondsLeft)) return { kind: "ok" };
  if (secondsLeft <= 0) return { kind: "expired" };
  const warnAt = Math.min(60, Math.max(5, leaseSeconds * 0.25));
  return secondsLeft <= warnAt ? { kind: "warning", secondsLeft } : { kind: "ok" };
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return m ? `${m}m ${String(s).padStart(2, "0")}s` : `${s}s`;
}
