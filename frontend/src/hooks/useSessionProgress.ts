import { useCallback, useEffect, useState } from "react";
import { api } from "../api/client";
import type { WorkloadRow } from "../api/types";

export interface SessionCounts {
  judged: number;
  skipped: number;
  /** Time on task summed over the tasks judged. */
  timeMs: number;
}

export interface SessionProgressHandle {
  session: SessionCounts;
  /** Tasks left for this annotator in the project (from the workload, then counted down); null until known. */
  tasksLeft: number | null;
  judged: (timeMs: number) => void;
  skipped: () => void;
  nothingLeft: () => void;
}

/** What the annotator has done on this page, and what is left. */
export function useSessionProgress(projectId: number): SessionProgressHandle {
  const [session, setSession] = useState<SessionCounts>({ judged: 0, skipped: 0, timeMs: 0 });
  const [tasksLeft, setTasksLeft] = useState<number | null>(null);
  useEffect(() => {
    api
      .get<WorkloadRow[]>("/api/me/workload/")
      .then(({ data }) => setTasksLeft(data.find((row) => row.project.id === projectId)?.tasks_left ?? null))
      .catch(() => undefined); // the count is a nicety; the page works without it
  }, [projectId]);
  const oneFewer = () => setTasksLeft((n) => (n === null ? n : Math.max(0, n - 1)));
  const judged = useCallback((timeMs: number) => {
    setSession((s) => ({ ...s, judged: s.judged + 1, timeMs: s.timeMs + timeMs }));
    oneFewer();
  }, []);
  const skipped = useCallback(() => {
    setSession((s) => ({ ...s, skipped: s.skipped + 1 }));
    oneFewer();
  }, []);
  const nothingLeft = useCallback(() => setTasksLeft(0), []);
  return { session, tasksLeft, judged, skipped, nothingLeft };
}
