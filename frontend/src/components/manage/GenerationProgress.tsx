import { useEffect, useState } from "react";
import { api } from "../../api/client";
import type { ResponseGeneration } from "../../api/types";
import { ProgressBar } from "../Charts";

// While a generation runs, its progress is read again this often (a chunk takes a minute or so).
export const GENERATION_POLL_MS = 5000;

function isLive(generation: ResponseGeneration): boolean {
  return generation.status === "queued" || generation.status === "running";
}

/** Responses a policy is generating in the background for this project: progress, or why it failed.
 * Shows nothing for a project without any. */
export function GenerationProgress({ projectId }: { projectId: number }) {
  const [generations, setGenerations] = useState<ResponseGeneration[]>([]);
  const [error, setError] = useState("");

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () => {
      api
        .get<ResponseGeneration[]>(`/api/projects/${projectId}/generations/`)
        .then(({ data }) => {
          if (stopped) return;
          setGenerations(data);
          setError("");
          if (data.some(isLive)) timer = setTimeout(load, GENERATION_POLL_MS);
        })
        .catch((caught) => {
          if (!stopped) setError((caught as Error).message);
        });
    };
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [projectId]);

  if (!generations.length && !error) return null;
  return (
    <section className="panel" aria-labelledby="generation-heading">
      <h2 id="generation-heading">Generated responses</h2>
      {error && <p className="error" role="alert">{error}</p>}
      <ul className="plain">
        {generations.map((g) => (
          <li key={g.id}>
            <p>
              Policy <strong>{g.policy}</strong>, {g.samples_per_prompt} samples per prompt: {g.prompts_done} of{" "}
              {g.prompts_total} prompts, {g.tasks_created} tasks created — <span>{g.status}</span>
            </p>
            <ProgressBar value={g.prompts_total ? g.prompts_done / g.prompts_total : 0} label={`Generation by ${g.policy}`} />
            {g.status === "failed" && (
              <p className="error" role="alert">
                Generation failed: {g.error}
              </p>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
