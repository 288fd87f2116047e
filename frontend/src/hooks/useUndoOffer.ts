import { useCallback, useEffect, useRef, useState } from "react";
import type { JudgementBody, NextTask } from "../api/types";

/** An answer just recorded, which the annotator may still change. */
export interface UndoOffer {
  judgementId: number;
  next: NextTask;
  body: JudgementBody;
}

export interface UndoOfferHandle {
  offer: UndoOffer | null;
  /** Offers to change `offer` for `forMs` (replacing any earlier offer and its countdown). */
  make: (offer: UndoOffer) => void;
  withdraw: () => void;
}

/** The "Submitted. Undo" offer after each answer; it lapses on its own after `forMs`. */
export function useUndoOffer(forMs: number): UndoOfferHandle {
  const [offer, setOffer] = useState<UndoOffer | null>(null);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const make = useCallback(
    (next: UndoOffer) => {
      window.clearTimeout(timer.current);
      setOffer(next);
      timer.current = window.setTimeout(() => setOffer(null), forMs);
    },
    [forMs],
  );
  const withdraw = useCallback(() => {
    window.clearTimeout(timer.current);
    setOffer(null);
  }, []);
  return { offer, make, withdraw };
}
