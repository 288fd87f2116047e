import { useCallback, useEffect, useState } from "react";
import { api } from "../../api/client";
import { formatRanking, parseRankingText } from "../../lib/rankingText";

interface TaskRow {
  id: number;
  purpose: string;
  priority: number;
  gold_ranking: number[][] | null;
  judgement_count: number;
  is_complete: boolean;
  prompt: { text: string; messages: { role: string; content: string }[] | null };
  responses: { id: number; text: string }[];
}

/** A page of the project's tasks; a known answer written as "2 > 1" makes a task gold. */
export function GoldTasks({ projectId, version }: { projectId: number; version: number }) {
  const [tasks, setTasks] = useState<TaskRow[]>([]);
  const [offset, setOffset] = useState(0);
  const [error, setError] = useState("");
  const load = useCallback(() => {
    api
      .get<TaskRow[]>(`/api/projects/${projectId}/tasks/?limit=10&offset=${offset}`)
      .then(({ data }) => setTasks(data))
      .catch((caught) => setError((caught as Error).message));
  }, [projectId, offset, version]);
  useEffect(load, [load]);

  return (
    <section className="panel" aria-labelledby="gold-heading">
      <h2 id="gold-heading">Tasks and gold answers</h2>
      <p className="muted">
        Give a task a known answer to make it gold: write the order of its responses, best first, e.g. <code>2 &gt; 1</code> or <code>1 = 2</code>{" "}
        (a tie). Gold tasks are mixed into each annotator's stream and feed gold accuracy.
      </p>
      {error && <p className="error" role="alert">{error}</p>}
      <ul className="plain task-list">
        {tasks.map((task) => (
          <GoldRow key={task.id} task={task} onSaved={load} />
        ))}
      </ul>
      <div className="button-row">
        <button type="button" className="secondary" disabled={offset === 0} onClick={() => setOffset((o) => Math.max(0, o - 10))}>
          Previous
        </button>
        <button type="button" className="secondary" disabled={tasks.length < 10} onClick={() => setOffset((o) => o + 10)}>
          Next
        </button>
      </div>
    </section>
  );
}

function GoldRow({ task, onSaved }: { task: TaskRow; onSaved: () => void }) {
  const ids = task.responses.map((r) => r.id);
  const [text, setText] = useState(formatRanking(task.gold_ranking, ids));
  const [error, setError] = useState("");
  const promptText = task.prompt.messages?.length ? task.prompt.messages[task.prompt.messages.length - 1].content : task.prompt.text;
  return (
    <li className="task-row">
      <div>
        <strong>Task {task.id}</strong> <span className="tag">{task.purpose}</span> <span className="muted">{task.judgement_count} judgements</span>
        <p className="clip">{promptText}</p>
        <ol className="clip-list">
          {task.responses.map((r) => (
            <li key={r.id} className="clip">
              {r.text}
            </li>
          ))}
        </ol>
      </div>
      {ids.length > 1 && (
        <form
          className="inline-form"
          onSubmit={async (event) => {
            event.preventDefault();
            setError("");
            try {
              const ranking = parseRankingText(text, ids);
              await api.post(`/api/tasks/${task.id}/gold/`, { ranking });
              onSaved();
            } catch (caught) {
              setError((caught as Error).message);
            }
          }}
        >
          <label>
            Known answer
            <input value={text} onChange={(e) => setText(e.target.value)} placeholder="1 > 2" aria-label={`Known answer for task ${task.id}`} />
          </label>
          <button type="submit" className="secondary">
            {task.purpose === "gold" ? "Update gold" : "Make gold"}
          </button>
          {error && <span className="error" role="alert">{error}</span>}
        </form>
      )}
    </li>
  );
}
