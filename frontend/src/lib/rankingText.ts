/** A ranking written as text, e.g. "2 > 1 = 3": response numbers (1-based), ">" between ranks, "=" for ties. */
import type { Ranking } from "../api/types";

/** Parses "2 > 1 = 3" into tiers of response ids; throws an Error naming the problem. */
export function parseRankingText(text: string, responseIds: number[]): Ranking {
  const k = responseIds.length;
  const tiers = text
    .split(">")
    .map((tier) => tier.split("=").map((item) => item.trim()))
    .filter((tier) => tier.some((item) => item));
  const seen = new Set<number>();
  const ranking: Ranking = tiers.map((tier) =>
    tier.map((item) => {
      const n = Number(item);
      if (!Number.isInteger(n) || n < 1 || n > k) throw new Error(`"${item}" is not a response number from 1 to ${k}.`);
      if (seen.has(n)) throw new Error(`Response ${n} appears twice.`);
      seen.add(n);
      return responseIds[n - 1];
    }),
  );
  if (seen.size !== k) {
    const missing = responseIds.map((_, i) => i + 1).filter((n) => !seen.has(n));
    throw new Error(`Rank every response; missing: ${missing.join(", ")}.`);
  }
  return ranking;
}

/** The inverse of parseRankingText, for showing a stored known answer. */
export function formatRanking(ranking: Ranking | null | undefined, responseIds: number[]): string {
  if (!ranking?.length) return "";
  return ranking.map((tier) => tier.map((id) => responseIds.indexOf(id) + 1).join(" = ")).join(" > ");
}

/** The criteria rankings typed so far: valid ones as tiers of response ids, and the first problem. */
export function criteriaRankings(
  texts: Record<string, string>,
  responseIds: number[],
): { criteria: Record<string, Ranking>; problem: string } {
  const criteria: Record<string, Ranking> = {};
  let problem = "";
  for (const [name, text] of Object.entries(texts)) {
    if (!text.trim()) continue; // criteria are optional
    try {
      criteria[name] = parseRankingText(text, responseIds);
    } catch (error) {
      problem ||= `${name}: ${(error as Error).message}`;
    }
  }
  return { criteria, problem };
}
