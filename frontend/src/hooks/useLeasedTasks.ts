import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../api/client";
import type { JudgementBody, NextTask } from "../api/types";
import { newClientId, outboxFlushed } from "../lib/outbox";

/** A prefetched lease with less time left than this is not started; a fresh one is asked for. */
const MIN_PREFETCHED_LEASE_MS = 5000;

/** The task on screen, as this page shows it. */
export interface ShownTask {
  next: NextTask;
  /** performance.now() when it appeared: the answer's time on task counts from here. */
  shownAt: number;
  /** The idempotency key of the answer given to it (one per showing). */
  clientId: string;
  /** Set while an earlier answer is being changed (undo): the judgement it replaces, and that answer. */
  replacing?: { judgementId: number; body: JudgementBody };
}

export type TaskPhase = "loading" | "ready" | "submitting" | "empty" | "error";

export interface LeasedTasksEvents {
  /** A task has just been put on screen. */
  onShow?: (task: ShownTask) => void;
  /** The server has nothing left for this annotator. */
  onEmpty?: () => void;
}

export interface LeasedTasks {
  shown: ShownTask | null;
  phase: TaskPhase;
  /** Why the next task could not be had (phase "error"). */
  loadError: string;
  /** What a screen reader is told about the task shown. */
  announcement: string;
  /** Asks the server for the next task (shows it, or "empty"); concurrent calls share one request. */
  loadNext: () => Promise<void>;
  /** Shows what comes after assignment `done` without asking the server: a task set aside by undo,
   * or the prefetched one. False when there is none (the caller then asks with loadNext).
   * `doneRecorded`: the answer to `done`, which the next prefetch waits for. */
  advance: (done: number, doneRecorded?: Promise<unknown>) => Promise<boolean>;
  /** Shows a task answered a moment ago again, to change that answer; the task on screen keeps its
   * lease and comes back right after. */
  reopen: (next: NextTask, replacing: { judgementId: number; body: JudgementBody }) => void;
  setSubmitting: (submitting: boolean) => void;
  /** Shows `message` in place of a task (the page cannot go on without what failed). */
  fail: (message: string) => void;
}

/**
 * The tasks an annotator works through in a project, each on a lease from the server. While one
 * is on screen the task after it is leased ahead ("prefetched"), so it appears the moment this one
 * is submitted or skipped; the answer reaches the server in the background.
 */
export function useLeasedTasks(projectId: number, events: LeasedTasksEvents = {}): LeasedTasks {
  const [shown, setShown] = useState<ShownTask | null>(null);
  const [phase, setPhase] = useState<TaskPhase>("loading");
  const [loadError, setLoadError] = useState("");
  const [announcement, setAnnouncement] = useState("");
  const latestEvents = useRef(events);
  useEffect(() => {
    latestEvents.current = events;
  });
  // The task on screen before an undo: it keeps its lease and is shown next.
  const heldNext = useRef<NextTask | null>(null);
  const pendingLoad = useRef<Promise<void> | null>(null);
  // The task after the current one, leased while the annotator works (see startPrefetch).
  const prefetch = useRef<{ after: number; promise: Promise<NextTask | null> } | null>(null);
  // Assignments submitted or skipped in this page: never shown again as "the next task".
  const finished = useRef(new Set<number>());
  const shownRef = useRef<ShownTask | null>(null);

  const display = useCallback((next: NextTask, replacing?: ShownTask["replacing"]) => {
    const task: ShownTask = { next, shownAt: performance.now(), clientId: newClientId(), replacing };
    shownRef.current = task;
    setShown(task);
    setAnnouncement(replacing ? `Changing your answer to task ${next.task.id}.` : `Task ${next.task.id} is shown.`);
    setLoadError("");
    setPhase("ready");
    latestEvents.current.onShow?.(task);
  }, []);

  /** Leases the next task while this one is worked on, so it shows the moment this one is done. */
  const startPrefetch = useCallback(
    (after: number, once: Promise<unknown> = Promise.resolve()) => {
      // `once`: the previous task's submit. Until it is recorded that task is still a live lease,
      // and the server would offer it as the one "ahead".
      const promise = once
        .catch(() => undefined)
        .then(() => api.post<NextTask | null>(`/api/projects/${projectId}/prefetch/`, { after }))
        .then((result) => {
          const ahead = result.status === 200 ? result.data : null;
          return ahead && ahead.assignment.id !== after && !finished.current.has(ahead.assignment.id) ? ahead : null;
        })
        .catch(() => null);
      prefetch.current = { after, promise };
    },
    [projectId],
  );

  const loadNext = useCallback(async () => {
    if (pendingLoad.current) return pendingLoad.current;
    const run = (async () => {
      try {
        // An answer still in the outbox from an earlier page holds its lease until it arrives.
        await outboxFlushed();
        const result = await api.post<NextTask | null>(`/api/projects/${projectId}/next/`, {});
        if (result.status === 204 || !result.data) {
          shownRef.current = null;
          setShown(null);
          setPhase("empty");
          latestEvents.current.onEmpty?.();
        } else {
          display(result.data);
          startPrefetch(result.data.assignment.id);
        }
      } catch (caught) {
        setLoadError((caught as Error).message);
        setPhase("error");
      } finally {
        pendingLoad.current = null;
      }
    })();
    pendingLoad.current = run;
    return run;
  }, [projectId, display, startPrefetch]);

  const advance = useCallback(
    async (done: number, doneRecorded: Promise<unknown> = Promise.resolve()): Promise<boolean> => {
      finished.current.add(done);
      const held = heldNext.current;
      heldNext.current = null;
      if (held) {
        display(held);
        startPrefetch(held.assignment.id, doneRecorded);
        return true;
      }
      const ahead = prefetch.current?.after === done ? await prefetch.current.promise : null;
      prefetch.current = null;
      // A prefetched lease about to lapse is not worth starting; ask for a fresh one instead.
      if (
        ahead &&
        !finished.current.has(ahead.assignment.id) &&
        Date.parse(ahead.assignment.expires_at) - Date.now() > MIN_PREFETCHED_LEASE_MS
      ) {
        display(ahead);
        startPrefetch(ahead.assignment.id, doneRecorded);
        return true;
      }
      return false;
    },
    [display, startPrefetch],
  );

  const reopen = useCallback(
    (next: NextTask, replacing: { judgementId: number; body: JudgementBody }) => {
      const current = shownRef.current;
      if (current && !current.replacing) heldNext.current = current.next;
      display(next, replacing);
    },
    [display],
  );

  const setSubmitting = useCallback((submitting: boolean) => setPhase(submitting ? "submitting" : "ready"), []);
  const fail = useCallback((message: string) => {
    setLoadError(message);
    setPhase("error");
  }, []);

  useEffect(() => {
    void loadNext();
  }, [loadNext]);

  return { shown, phase, loadError, announcement, loadNext, advance, reopen, setSubmitting, fail };
}
