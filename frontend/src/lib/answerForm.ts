/**
 * The answer being given to one task, for each kind of task: a pairwise verdict, a K-way ranking
 * or a written demonstration, with the criteria, rationale and flags beside it. Pure functions:
 * what the page holds, how keys and edits change it, when it is complete, and the judgement body.
 */
import type { JudgementBody, TaskType } from "../api/types";
import {
  EMPTY_PAIRWISE,
  choiceFromRanking,
  pairwiseComplete,
  pairwiseJudgement,
  pairwiseKey,
  pairwiseRanking,
  type Choice,
  type PairwiseState,
} from "./pairwise";
import { EMPTY_RANKING, rankingComplete, rankingKey, type RankingState } from "./ranking";
import { criteriaRankings } from "./rankingText";

/** Which form a task gets: its project's type, except that a task without responses is written. */
export type AnswerKind = "pairwise" | "ranking" | "demonstration";

export function answerKind(taskType: TaskType, responseCount: number): AnswerKind {
  if (taskType === "demonstration" || responseCount === 0) return "demonstration";
  return responseCount === 2 ? "pairwise" : "ranking";
}

export interface AnswerForm {
  pairwise: PairwiseState;
  ranking: RankingState;
  demoText: string;
  /** Pairwise criteria: a verdict per criterion (optional each). */
  criteriaValues: Record<string, Choice | undefined>;
  /** Ranking criteria: a typed ranking per criterion ("2 > 1 = 3"; optional each). */
  criteriaTexts: Record<string, string>;
  rationale: string;
  flags: string[];
}

export const EMPTY_ANSWER: AnswerForm = {
  pairwise: EMPTY_PAIRWISE,
  ranking: EMPTY_RANKING,
  demoText: "",
  criteriaValues: {},
  criteriaTexts: {},
  rationale: "",
  flags: [],
};

/** The form for a newly shown task: empty, or holding an earlier answer being changed (undo).
 * `responseIds` is the display order. Criteria are not carried over: they are asked afresh. */
export function answerFormFor(responseIds: number[], earlier?: JudgementBody): AnswerForm {
  if (!earlier) return EMPTY_ANSWER;
  const pairwise =
    responseIds.length === 2 && earlier.ranking.length
      ? {
          choice: choiceFromRanking(earlier.ranking, Boolean(earlier.both_bad), [responseIds[0], responseIds[1]]),
          strength: earlier.strength ?? null,
        }
      : EMPTY_PAIRWISE;
  return {
    ...EMPTY_ANSWER,
    pairwise,
    ranking: responseIds.length > 2 ? { tiers: earlier.ranking, tieNext: false } : EMPTY_RANKING,
    demoText: earlier.text ?? "",
    rationale: earlier.rationale ?? "",
    flags: earlier.flags ?? [],
  };
}

/** A key pressed outside any text box: 1-4 and Esc for a pairwise verdict, 1..K, "=" and
 * Backspace for a ranking. Returns `form` itself when the key means nothing here. */
export function answerKey(form: AnswerForm, kind: AnswerKind, key: string, responseIds: number[]): AnswerForm {
  if (kind === "pairwise") {
    if (key === "Escape") return form.pairwise === EMPTY_PAIRWISE ? form : { ...form, pairwise: EMPTY_PAIRWISE };
    const pairwise = pairwiseKey(form.pairwise, key);
    return pairwise === form.pairwise ? form : { ...form, pairwise };
  }
  if (kind === "ranking") {
    const ranking = rankingKey(form.ranking, key, responseIds);
    return ranking === form.ranking ? form : { ...form, ranking };
  }
  return form;
}

export type AnswerFormAction =
  | { type: "show"; responseIds: number[]; earlier?: JudgementBody }
  | { type: "key"; kind: AnswerKind; key: string; responseIds: number[] }
  | { type: "edit"; change: Partial<AnswerForm> };

export function answerFormReducer(form: AnswerForm, action: AnswerFormAction): AnswerForm {
  switch (action.type) {
    case "show":
      return answerFormFor(action.responseIds, action.earlier);
    case "key":
      return answerKey(form, action.kind, action.key, action.responseIds);
    case "edit":
      return { ...form, ...action.change };
  }
}

export function answerComplete(form: AnswerForm, kind: AnswerKind, responseIds: number[]): boolean {
  if (kind === "demonstration") return form.demoText.trim().length > 0;
  if (kind === "pairwise") return pairwiseComplete(form.pairwise);
  return rankingComplete(form.ranking, responseIds);
}

/** Why the answer cannot be sent yet (the first reason), or null. `field` names the box to focus. */
export function answerProblem(
  form: AnswerForm,
  kind: AnswerKind,
  responseIds: number[],
  { rationaleRequired }: { rationaleRequired: boolean },
): { message: string; field?: "rationale" } | null {
  if (!answerComplete(form, kind, responseIds)) {
    if (kind === "demonstration") return { message: "Write the answer first." };
    if (kind === "pairwise") {
      return { message: form.pairwise.choice ? "Pick the strength (1-4) first." : "Pick a verdict (1-4) first." };
    }
    return { message: "Rank every response first." };
  }
  const criteriaProblem = kind === "ranking" ? criteriaRankings(form.criteriaTexts, responseIds).problem : "";
  if (criteriaProblem) return { message: `Criterion ${criteriaProblem} Fix it or clear the box.` };
  if (rationaleRequired && !form.rationale.trim()) {
    return { message: "This project asks for a rationale: explain your choice in the box below.", field: "rationale" };
  }
  return null;
}

/** The body of POST .../judgement/ for a complete answer (see answerProblem). */
export function judgementBody(
  form: AnswerForm,
  kind: AnswerKind,
  responseIds: number[],
  { clientId, timeSpentMs }: { clientId: string; timeSpentMs: number },
): JudgementBody {
  const common = { client_id: clientId, time_spent_ms: timeSpentMs, rationale: form.rationale, flags: form.flags };
  if (kind === "demonstration") return { ...common, ranking: [], text: form.demoText };
  if (kind === "pairwise") {
    const pair: [number, number] = [responseIds[0], responseIds[1]];
    const criteria: Record<string, number[][]> = {};
    for (const [name, choice] of Object.entries(form.criteriaValues)) {
      if (choice) criteria[name] = pairwiseRanking(choice, pair);
    }
    return { ...common, ...pairwiseJudgement(form.pairwise, pair), criteria };
  }
  return {
    ...common,
    ranking: form.ranking.tiers,
    both_bad: false,
    criteria: criteriaRankings(form.criteriaTexts, responseIds).criteria,
  };
}
