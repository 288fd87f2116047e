import { useState } from "react";
import { downloadFile } from "../../lib/download";

/** Download buttons for the project's exports. */
export function Exports({ projectId }: { projectId: number }) {
  const [error, setError] = useState("");
  const formats: [string, string][] = [
    ["trl", "Consensus pairs for TRL (prompt, chosen, rejected, margin)"],
    ["hh", "Anthropic HH transcripts (chosen, rejected)"],
    ["judgements", "Every raw judgement, with annotator, display order and timing"],
  ];
  return (
    <section className="panel" aria-labelledby="export-heading">
      <h2 id="export-heading">Export</h2>
      <ul className="plain">
        {formats.map(([format, description]) => (
          <li key={format}>
            <button
              type="button"
              className="secondary"
              onClick={() => downloadFile(`/api/projects/${projectId}/export/?format=${format}`, `project-${projectId}-${format}.jsonl`).catch((e) => setError((e as Error).message))}
            >
              Download {format}.jsonl
            </button>{" "}
            <span className="muted">{description}</span>
          </li>
        ))}
      </ul>
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}
