import { useMemo } from "react";
import { renderMarkdown } from "../lib/markdown";

/** Untrusted markdown, rendered sanitized (no scripts, no remote resources, safe links). */
export function Markdown({ source, className = "" }: { source: string; className?: string }) {
  const html = useMemo(() => renderMarkdown(source), [source]);
  return <div className={`markdown ${className}`} dangerouslySetInnerHTML={{ __html: html }} />;
}
