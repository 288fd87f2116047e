import type { ReactNode } from "react";
import { Markdown } from "./Markdown";

/** One candidate response with its screen label (A, B, … or 1, 2, …). */
export function ResponseCard({
  label,
  text,
  selected = false,
  extra,
  testId,
}: {
  label: string;
  text: string;
  selected?: boolean;
  extra?: ReactNode;
  testId?: string;
}) {
  return (
    <article className={`response${selected ? " selected" : ""}`} aria-label={`Response ${label}`} data-testid={testId}>
      <header className="response-head">
        <span className="response-label">{label}</span>
        {extra}
      </header>
      <Markdown source={text} className="response-body" />
    </article>
  );
}
