/** The pairwise verdict: keys 1..4 pick the outcome, then 1..4 the strength (Llama 2 scale). */
import type { JudgementBody, Ranking } from "../api/types";

export type Choice = "A" | "B" | "tie" | "both_bad";

export interface PairwiseState {
  choice: Choice | null;
  strength: number | null;
}

export const CHOICE_KEYS: Record<string, Choice> = { "1": "A", "2": "B", "3": "tie", "4": "both_bad" };

export const CHOICE_LABELS: Record<Choice, string> = {
  A: "A is better",
  B: "B is better",
  tie: "Tie",
  both_bad: "Both bad",
};

export const STRENGTH_LABELS: Record<number, string> = {
  1: "Negligibly better / unsure",
  2: "Slightly better",
  3: "Better",
  4: "Significantly better",
};

export const EMPTY_PAIRWISE: PairwiseState = { choice: null, strength: null };

export function needsStrength(choice: Choice | null): boolean {
  return choice === "A" || choice === "B";
}

/** Applies one digit key: the first picks the outcome, the next ones set (or change) the strength. */
export function pairwiseKey(state: PairwiseState, key: string): PairwiseState {
  if (!/^[1-4]$/.test(key)) return state;
  if (needsStrength(state.choice)) return { ...state, strength: Number(key) };
  return { choice: CHOICE_KEYS[key], strength: null };
}

export function pairwiseComplete(state: PairwiseState): boolean {
  return state.choice !== null && (!needsStrength(state.choice) || state.strength !== null);
}

/** The ranking as tiers of response ids; `shown` is the display order [left, right]. */
export function pairwiseRanking(choice: Choice, shown: [number, number]): Ranking {
  const [a, b] = shown;
  if (choice === "A") return [[a], [b]];
  if (choice === "B") return [[b], [a]];
  return [[a, b]];
}

/** The judgement fields of a complete pairwise verdict. */
export function pairwiseJudgement(
  state: PairwiseState,
  shown: [number, number],
): Pick<JudgementBody, "ranking" | "both_bad" | "strength"> {
  if (!state.choice) throw new Error("No choice made yet.");
  return {
    ranking: pairwiseRanking(state.choice, shown),
    both_bad: state.choice === "both_bad",
    strength: needsStrength(state.choice) ? state.strength : null,
  };
}

/** Reads a stored ranking back into a choice (for undo: the earlier answer is shown again). */
export function choiceFromRanking(ranking: Ranking, bothBad: boolean, shown: [number, number]): Choice {
  if (bothBad) return "both_bad";
  if (ranking.length === 1) return "tie";
  return ranking[0][0] === shown[0] ? "A" : "B";
}
