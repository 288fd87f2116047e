import { useEffect } from "react";
import { annotateCommand, type AnnotateCommand, type KeyContext } from "../lib/annotateKeys";

export type AnnotateKeyHandlers = Record<Exclude<AnnotateCommand, "answer">, () => void> & {
  /** An answer key; returns whether it changed the answer (then the browser's action is cancelled). */
  answerKey: (key: string) => boolean;
};

/** Listens to the keyboard on the whole page while mounted (see lib/annotateKeys for the keys). */
export function useAnnotateKeys(context: KeyContext, handlers: AnnotateKeyHandlers): void {
  // Registered afresh each render, so a key always acts on what is on screen now.
  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      const decision = annotateCommand(event, context);
      if (!decision) return;
      if (decision.command === "answer") {
        if (handlers.answerKey(event.key)) event.preventDefault();
        return;
      }
      if (decision.preventDefault) event.preventDefault();
      handlers[decision.command]();
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });
}
