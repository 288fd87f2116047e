/** A ranking of K responses as ordered tiers (best first); responses in one tier are tied. */
import type { Ranking } from "../api/types";

export interface RankingState {
  tiers: Ranking;
  /** When true, the next response placed joins the last tier (a tie) instead of a new one. */
  tieNext: boolean;
}

export const EMPTY_RANKING: RankingState = { tiers: [], tieNext: false };

function without(tiers: Ranking, id: number): Ranking {
  return tiers.map((tier) => tier.filter((x) => x !== id)).filter((tier) => tier.length > 0);
}

/** Places `id` in a new lowest tier, or in the last tier when a tie was asked for. */
export function place(state: RankingState, id: number): RankingState {
  const tiers = without(state.tiers, id);
  if (state.tieNext && tiers.length > 0) {
    const last = tiers[tiers.length - 1];
    return { tiers: [...tiers.slice(0, -1), [...last, id]], tieNext: false };
  }
  return { tiers: [...tiers, [id]], tieNext: false };
}

/** Moves `id` into tier `index` (a tie with it), or into a new tier at `index` when `asNewTier`. */
export function moveTo(state: RankingState, id: number, index: number, asNewTier: boolean): RankingState {
  // Index positions refer to the tiers before removal; adjust when the source tier disappears.
  const sourceIndex = state.tiers.findIndex((tier) => tier.includes(id));
  const sourceVanishes = sourceIndex >= 0 && state.tiers[sourceIndex].length === 1;
  let target = index;
  if (sourceVanishes && sourceIndex < index) target -= 1;
  const tiers = without(state.tiers, id);
  target = Math.max(0, Math.min(target, tiers.length));
  if (asNewTier || target >= tiers.length) {
    return { tiers: [...tiers.slice(0, target), [id], ...tiers.slice(target)], tieNext: false };
  }
  return {
    tiers: tiers.map((tier, i) => (i === target ? [...tier, id] : tier)),
    tieNext: false,
  };
}

export function unplace(state: RankingState, id: number): RankingState {
  return { tiers: without(state.tiers, id), tieNext: false };
}

/** Takes back the response placed last. */
export function undoLast(state: RankingState): RankingState {
  if (state.tiers.length === 0) return { ...state, tieNext: false };
  const last = state.tiers[state.tiers.length - 1];
  return unplace(state, last[last.length - 1]);
}

export function unranked(state: RankingState, all: number[]): number[] {
  const placed = new Set(state.tiers.flat());
  return all.filter((id) => !placed.has(id));
}

export function rankingComplete(state: RankingState, all: number[]): boolean {
  return unranked(state, all).length === 0 && all.length > 0;
}

/** Keys: 1..K place response n next; "=" makes the next one tie with the last; Backspace undoes. */
export function rankingKey(state: RankingState, key: string, shown: number[]): RankingState {
  if (key === "=" || key === "t" || key === "T") return { ...state, tieNext: state.tiers.length > 0 };
  if (key === "Backspace") return undoLast(state);
  const n = Number(key);
  if (Number.isInteger(n) && n >= 1 && n <= shown.length) return place(state, shown[n - 1]);
  return state;
}
