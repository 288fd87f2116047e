/**
 * The annotate page: one task at a time, answered from the keyboard or the mouse. The page composes
 * hooks with one job each (the leased tasks, the answer form, the outbox, the keyboard, the undo
 * offer, the session's progress) and puts their state on screen.
 */
import { useState } from "react";
import { useParams } from "react-router-dom";
import { ApiError, api } from "../api/client";
import { AnnotateBar } from "../components/annotate/AnnotateBar";
import { AnswerFields } from "../components/annotate/AnswerFields";
import { Guidelines } from "../components/annotate/Guidelines";
import { LeaseWarning } from "../components/annotate/LeaseWarning";
import { NothingLeft } from "../components/annotate/NothingLeft";
import { SessionProgress } from "../components/annotate/SessionProgress";
import { TaskForm } from "../components/annotate/TaskForm";
import { UndoBar } from "../components/annotate/UndoBar";
import { CheatSheet } from "../components/CheatSheet";
import { SkipDialog } from "../components/SkipDialog";
import { useAnnotateKeys } from "../hooks/useAnnotateKeys";
import { useAnswerForm } from "../hooks/useAnswerForm";
import { useAnswerOutbox } from "../hooks/useAnswerOutbox";
import { useLeasedTasks, type ShownTask } from "../hooks/useLeasedTasks";
import { useProject } from "../hooks/useProject";
import { useRecheckWhileVisible } from "../hooks/useRecheckWhileVisible";
import { useSessionProgress } from "../hooks/useSessionProgress";
import { useUndoOffer } from "../hooks/useUndoOffer";
import { answerProblem, judgementBody, type AnswerForm } from "../lib/answerForm";

/** How long the undo offer stays up; the server accepts replacements for 30 s by default. */
const UNDO_MS = 10_000;
/** How often "Nothing left" looks again while the page is in view. */
const EMPTY_RECHECK_MS = 60_000;

export function AnnotatePage() {
  const projectId = Number(useParams().projectId);
  const [error, setError] = useState("");
  const [backgroundError, setBackgroundError] = useState("");
  const [guidelinesOpen, setGuidelinesOpen] = useState(() => window.innerWidth >= 1100);
  const [cheatSheetOpen, setCheatSheetOpen] = useState(false);
  const [skipOpen, setSkipOpen] = useState(false);
  const progress = useSessionProgress(projectId);
  const tasks = useLeasedTasks(projectId, { onShow: showTask, onEmpty: progress.nothingLeft });
  const { shown, phase, loadNext } = tasks;
  const project = useProject(projectId, tasks.fail);

  const taskType = project?.task_type ?? "pairwise";
  const responses = shown?.next.task.responses ?? [];
  const shownIds = responses.map((r) => r.id);
  const answer = useAnswerForm(taskType, shownIds);
  const outbox = useAnswerOutbox();
  const undoOffer = useUndoOffer(UNDO_MS);

  // "Nothing left" is not always final: a task another annotator holds comes back when they leave
  // it unfinished, and new tasks arrive with each training iteration.
  useRecheckWhileVisible(phase === "empty", loadNext, EMPTY_RECHECK_MS);

  function showTask(task: ShownTask) {
    answer.show(task.next.task.responses.map((r) => r.id), task.replacing?.body);
    setError("");
    window.scrollTo({ top: 0 });
  }

  function editAnswer(change: Partial<AnswerForm>) {
    answer.edit(change);
    if (change.criteriaTexts) setError(""); // a complaint about the old text would mislead
  }

  async function submit() {
    if (!shown || phase !== "ready") return;
    const problem = answerProblem(answer.form, answer.kind, shownIds, { rationaleRequired: Boolean(project?.rationale_required) });
    if (problem) {
      setError(problem.message);
      if (problem.field) document.getElementById(problem.field)?.focus();
      return;
    }
    const current = shown;
    const body = judgementBody(answer.form, answer.kind, shownIds, {
      clientId: current.clientId,
      timeSpentMs: Math.round(performance.now() - current.shownAt),
    });
    const url = current.replacing
      ? `/api/judgements/${current.replacing.judgementId}/replace/`
      : `/api/assignments/${current.next.assignment.id}/judgement/`;
    tasks.setSubmitting(true);
    setError("");
    setBackgroundError("");
    // The judgement travels through the outbox (retried with its client_id until the server
    // answers) while the prefetched task is already on screen.
    const recorded = outbox.send<{ id: number }>(url, body).then(({ data }) => {
      if (!current.replacing) progress.judged(body.time_spent_ms ?? 0);
      undoOffer.make({ judgementId: data.id, next: current.next, body });
    });
    const movedOn = await tasks.advance(current.next.assignment.id, recorded);
    try {
      await recorded;
      // Without a prefetched task, the next one is asked for only once this one is recorded
      // (before that, the server would hand back this same lease).
      if (!movedOn) await loadNext();
    } catch (caught) {
      const message = caught instanceof ApiError ? caught.message : `Not sent: ${(caught as Error).message}`;
      if (movedOn) setBackgroundError(`Your answer to the previous task was not recorded: ${message}`);
      else {
        tasks.setSubmitting(false);
        setError(message);
      }
    }
  }

  function undo() {
    const offer = undoOffer.offer;
    if (!offer || phase === "submitting") return;
    undoOffer.withdraw();
    tasks.reopen(offer.next, { judgementId: offer.judgementId, body: offer.body });
  }

  async function skip(reason: string) {
    if (!shown) return;
    setSkipOpen(false);
    try {
      await api.post(`/api/assignments/${shown.next.assignment.id}/skip/`, { reason });
      progress.skipped();
      if (!(await tasks.advance(shown.next.assignment.id))) await loadNext();
    } catch (caught) {
      setError((caught as Error).message);
    }
  }

  useAnnotateKeys(
    {
      dialogOpen: cheatSheetOpen || skipOpen,
      writing: taskType === "demonstration",
      hasTask: shown !== null,
      replacing: Boolean(shown?.replacing),
      canUndo: undoOffer.offer !== null,
      answering: shown !== null && phase === "ready" && taskType !== "demonstration",
    },
    {
      submit: () => void submit(),
      showKeys: () => setCheatSheetOpen(true),
      skip: () => setSkipOpen(true),
      toggleGuidelines: () => setGuidelinesOpen((open) => !open),
      undo,
      answerKey: answer.pressKey,
    },
  );

  return (
    <div className={`annotate ${guidelinesOpen ? "with-guidelines" : ""}`}>
      <AnnotateBar
        title={project?.name ?? "…"}
        progress={<SessionProgress session={progress.session} tasksLeft={progress.tasksLeft} />}
        guidelinesOpen={guidelinesOpen}
        onToggleGuidelines={() => setGuidelinesOpen((open) => !open)}
        onShowKeys={() => setCheatSheetOpen(true)}
      />

      {guidelinesOpen && <Guidelines source={project?.guidelines} />}

      <div className="workspace">
        <p className="sr-only" aria-live="polite">
          {tasks.announcement}
        </p>
        {outbox.notice && (
          <p className="notice" role="status" data-testid="notice">
            {outbox.notice}
          </p>
        )}
        {backgroundError && (
          <p className="error" role="alert" data-testid="background-error">
            {backgroundError}
          </p>
        )}
        {undoOffer.offer && <UndoBar onUndo={undo} />}
        {shown && project && (
          <LeaseWarning
            expiresAt={shown.next.assignment.expires_at}
            leaseSeconds={project.lease_seconds ?? 900}
            onNewTask={() => void loadNext()}
          />
        )}
        {shown?.replacing && <p className="notice">Changing your last answer: submitting records a replacement; nothing is overwritten.</p>}

        {phase === "loading" && <p className="muted">Loading the next task…</p>}
        {phase === "empty" && <NothingLeft onCheckAgain={() => void loadNext()} />}
        {phase === "error" && !shown && (
          <p className="error" role="alert">
            {tasks.loadError} <button type="button" className="secondary" onClick={() => void loadNext()}>Try again</button>
          </p>
        )}

        {shown && (phase === "ready" || phase === "submitting") && (
          <TaskForm
            task={shown.next}
            error={error}
            submitting={phase === "submitting"}
            canSubmit={answer.complete}
            submitKey={taskType === "demonstration" ? "Ctrl+Enter" : "Enter"}
            onSubmit={() => void submit()}
            onSkip={shown.replacing ? undefined : () => setSkipOpen(true)}
          >
            <AnswerFields
              kind={answer.kind}
              responses={responses}
              criteria={project?.criteria ?? []}
              rationaleRequired={Boolean(project?.rationale_required)}
              form={answer.form}
              onEdit={editAnswer}
            />
          </TaskForm>
        )}
      </div>

      {cheatSheetOpen && <CheatSheet taskType={taskType} onClose={() => setCheatSheetOpen(false)} />}
      {skipOpen && <SkipDialog onSkip={(reason) => void skip(reason)} onClose={() => setSkipOpen(false)} />}
    </div>
  );
}
