/**
 * The annotate page's keyboard: what a key means, given what is on screen. Answer keys (1-4 for a
 * verdict and then its strength, 1..K for a ranking) are handed to the answer form; the rest are
 * page commands: Enter submits, S skips (with a reason), U undoes, G shows the guidelines, ? the keys.
 */

export type AnnotateCommand = "submit" | "showKeys" | "skip" | "toggleGuidelines" | "undo" | "answer";

export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  altKey: boolean;
  metaKey: boolean;
  target: EventTarget | null;
}

export interface KeyContext {
  /** A dialog (the cheat sheet, the skip reason) has the keyboard. */
  dialogOpen: boolean;
  /** A demonstration is written in a text box, so it submits with Ctrl+Enter from there. */
  writing: boolean;
  /** A task is on screen. */
  hasTask: boolean;
  /** The task on screen is an earlier answer being changed (it cannot be skipped). */
  replacing: boolean;
  canUndo: boolean;
  /** The task on screen takes answer keys now (shown, not being submitted, not written). */
  answering: boolean;
}

export interface KeyDecision {
  command: AnnotateCommand;
  /** Whether the browser's own action for the key is cancelled ("answer": the form decides). */
  preventDefault: boolean;
}

/** Where a key types text (a text box, a select) rather than commands the page. */
export function isTypingTarget(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  if (!element || !element.tagName) return false;
  const tag = element.tagName;
  return (
    tag === "TEXTAREA" ||
    tag === "SELECT" ||
    (tag === "INPUT" && !["radio", "checkbox"].includes((element as HTMLInputElement).type)) ||
    element.isContentEditable === true
  );
}

/** What `press` asks of the page, or null when the page leaves it alone. */
export function annotateCommand(press: KeyPress, context: KeyContext): KeyDecision | null {
  if (context.dialogOpen) return null;
  if (press.ctrlKey && press.key === "Enter" && context.writing) return { command: "submit", preventDefault: true };
  if (press.altKey || press.ctrlKey || press.metaKey || isTypingTarget(press.target)) return null;
  const key = press.key;
  if (key === "?") return { command: "showKeys", preventDefault: true };
  if (key === "Enter") {
    // Enter on a focused button or link does what that button or link does.
    const tag = (press.target as HTMLElement | null)?.tagName;
    return tag === "BUTTON" || tag === "A" ? null : { command: "submit", preventDefault: true };
  }
  if ((key === "s" || key === "S") && context.hasTask && !context.replacing) return { command: "skip", preventDefault: true };
  if (key === "g" || key === "G") return { command: "toggleGuidelines", preventDefault: false };
  if ((key === "u" || key === "U") && context.canUndo) return { command: "undo", preventDefault: true };
  if (context.answering) return { command: "answer", preventDefault: false };
  return null;
}
