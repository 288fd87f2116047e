import { formatDuration } from "../../lib/lease";
import type { SessionCounts } from "../../hooks/useSessionProgress";
import { ProgressBar } from "../Charts";

/** "3 judged · 1 skipped · 4 left · 20s per task", with a bar once the total is known. */
export function SessionProgress({ session, tasksLeft }: { session: SessionCounts; tasksLeft: number | null }) {
  const done = session.judged + session.skipped;
  const total = tasksLeft === null ? null : done + tasksLeft;
  return (
    <div className="session" aria-label="Session progress" data-testid="session">
      <span>
        {session.judged} judged · {session.skipped} skipped
        {tasksLeft !== null && ` · ${tasksLeft} left`}
        {session.judged > 0 && ` · ${formatDuration(session.timeMs / session.judged)} per task`}
      </span>
      {total ? <ProgressBar value={done / total} label="Session progress" /> : null}
    </div>
  );
}
