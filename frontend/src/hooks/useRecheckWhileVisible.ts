import { useEffect } from "react";

/** Calls `recheck` every `everyMs` while `active`, skipping the times the page is not in view. */
export function useRecheckWhileVisible(active: boolean, recheck: () => void, everyMs: number): void {
  useEffect(() => {
    if (!active) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === "visible") recheck();
    }, everyMs);
    return () => window.clearInterval(timer);
  }, [active, recheck, everyMs]);
}
