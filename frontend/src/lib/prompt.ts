/** A task's prompt as chat turns, whatever shape the server sent it in. */
import type { ChatTurn, NextTask } from "../api/types";

export function promptTurns(prompt: NextTask["task"]["prompt"]): ChatTurn[] {
  if (typeof prompt === "string") return [{ role: "user", content: prompt }];
  if (Array.isArray(prompt)) return prompt.map(normalizeTurn);
  if (prompt && Array.isArray(prompt.messages) && prompt.messages.length) return prompt.messages.map(normalizeTurn);
  if (prompt && typeof prompt.text === "string") return [{ role: "user", content: prompt.text }];
  return [];
}

function normalizeTurn(turn: ChatTurn): ChatTurn {
  return { role: String(turn?.role ?? "user"), content: String(turn?.content ?? "") };
}

export function roleLabel(role: string): string {
  const lower = role.toLowerCase();
  if (lower === "user" || lower === "human") return "User";
  if (lower === "assistant" || lower === "model") return "Assistant";
  if (lower === "system") return "System";
  return role;
}
