import { useNow } from "../../hooks/useNow";
import { leaseStatus } from "../../lib/lease";

/** Warns, counting down by the second, when the lease on the task shown is about to run out or has. */
export function LeaseWarning({
  expiresAt,
  leaseSeconds,
  onNewTask,
}: {
  expiresAt: string;
  leaseSeconds: number;
  onNewTask: () => void;
}) {
  const lease = leaseStatus(expiresAt, leaseSeconds, useNow(1000));
  if (lease.kind === "warning") {
    return (
      <p className="warning" role="alert" data-testid="lease-warning">
        This task's lease runs out in {lease.secondsLeft} s: submit soon or it goes back to the pool.
      </p>
    );
  }
  if (lease.kind === "expired") {
    return (
      <p className="warning" role="alert" data-testid="lease-warning">
        This task's lease has run out and it may go to someone else.{" "}
        <button type="button" className="secondary" onClick={onNewTask}>
          Get a new task
        </button>
      </p>
    );
  }
  return null;
}
