import { useCallback, useState } from "react";
import type { JudgementBody } from "../api/types";
import { sendReliably } from "../lib/outbox";

export interface AnswerOutbox {
  /** POSTs an answer through the outbox; resolves with the server's answer and rejects only when
   * the server refuses it (ApiError): network failures are retried until the server answers. */
  send: <T>(url: string, body: JudgementBody) => Promise<{ status: number; data: T }>;
  /** What the annotator is told while an answer is being sent again ("" otherwise). */
  notice: string;
}

/** Answers sent so that none is lost or doubled: a network failure is retried with the same
 * client id, and an answer still unsent at a reload is sent by the next page (lib/outbox). */
export function useAnswerOutbox(): AnswerOutbox {
  const [notice, setNotice] = useState("");
  const send = useCallback(async <T,>(url: string, body: JudgementBody) => {
    try {
      return await sendReliably<T>(url, body as unknown as Record<string, unknown> & { client_id: string }, {
        onRetry: (attempt) =>
          setNotice(`Network problem: sending your last answer again (attempt ${attempt}); it is kept until it arrives.`),
      });
    } finally {
      setNotice("");
    }
  }, []);
  return { send, notice };
}
