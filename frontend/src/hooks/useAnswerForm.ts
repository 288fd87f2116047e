import { useCallback, useReducer } from "react";
import type { JudgementBody, TaskType } from "../api/types";
import {
  EMPTY_ANSWER,
  answerComplete,
  answerFormReducer,
  answerKey,
  answerKind,
  type AnswerForm,
  type AnswerKind,
} from "../lib/answerForm";

export interface AnswerFormHandle {
  form: AnswerForm;
  kind: AnswerKind;
  complete: boolean;
  /** Starts the form of a newly shown task (`earlier`: the answer being changed, on undo). */
  show: (responseIds: number[], earlier?: JudgementBody) => void;
  edit: (change: Partial<AnswerForm>) => void;
  /** Applies an answer key (1-4, Esc, "=", Backspace...); returns whether it changed the answer. */
  pressKey: (key: string) => boolean;
}

/** The answer to the task on screen; `responseIds` is its display order. */
export function useAnswerForm(taskType: TaskType, responseIds: number[]): AnswerFormHandle {
  const [form, dispatch] = useReducer(answerFormReducer, EMPTY_ANSWER);
  const kind = answerKind(taskType, responseIds.length);
  const show = useCallback((ids: number[], earlier?: JudgementBody) => dispatch({ type: "show", responseIds: ids, earlier }), []);
  const edit = useCallback((change: Partial<AnswerForm>) => dispatch({ type: "edit", change }), []);
  function pressKey(key: string): boolean {
    // Decided on the rendered form (the caller must know now whether to keep the key's default);
    // the reducer applies it to the latest state, so keys pressed faster than renders all count.
    if (answerKey(form, kind, key, responseIds) === form) return false;
    dispatch({ type: "key", kind, key, responseIds });
    return true;
  }
  return { form, kind, complete: answerComplete(form, kind, responseIds), show, edit, pressKey };
}
