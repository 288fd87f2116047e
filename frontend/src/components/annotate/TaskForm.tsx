import type { ReactNode } from "react";
import type { NextTask } from "../../api/types";
import { promptTurns } from "../../lib/prompt";
import { ChatPrompt } from "../ChatPrompt";

/** One task on screen: its prompt, the answer fields (`children`), what stops the submit, and the
 * Submit and Skip buttons. */
export function TaskForm({
  task,
  children,
  error,
  submitting,
  canSubmit,
  submitKey,
  onSubmit,
  onSkip,
}: {
  task: NextTask;
  children: ReactNode;
  error: string;
  submitting: boolean;
  canSubmit: boolean;
  submitKey: string;
  onSubmit: () => void;
  /** Absent where the task cannot be skipped (an earlier answer being changed). */
  onSkip?: () => void;
}) {
  return (
    <form
      className="task"
      aria-label="Task"
      data-task-id={task.task.id}
      data-assignment-id={task.assignment.id}
      onSubmit={(event) => {
        event.preventDefault();
        onSubmit();
      }}
    >
      <ChatPrompt turns={promptTurns(task.task.prompt)} />
      {children}
      {error && (
        <p className="error" role="alert" data-testid="task-error">
          {error}
        </p>
      )}
      <div className="button-row submit-row">
        <button type="submit" className="primary" disabled={submitting || !canSubmit}>
          {submitting ? "Submitting…" : "Submit"} <kbd>{submitKey}</kbd>
        </button>
        {onSkip && (
          <button type="button" className="secondary" onClick={onSkip}>
            Skip <kbd>S</kbd>
          </button>
        )}
      </div>
    </form>
  );
}
