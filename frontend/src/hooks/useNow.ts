import { useEffect, useState } from "react";

/** Date.now(), refreshed every `everyMs` (re-renders the component that asks, and only it). */
export function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs]);
  return now;
}
