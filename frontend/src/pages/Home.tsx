import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../api/client";
import type { WorkloadRow } from "../api/types";
import { useAuth } from "../auth";

const TYPE_LABEL = { pairwise: "Pairwise A/B", ranking: "Ranking", demonstration: "Demonstrations" };

export function HomePage() {
  const { me } = useAuth();
  const [rows, setRows] = useState<WorkloadRow[] | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    api
      .get<WorkloadRow[]>("/api/me/workload/")
      .then(({ data }) => setRows(data))
      .catch((caught) => setError((caught as Error).message));
  }, []);

  return (
    <div className="page">
      <h1>Your projects</h1>
      {error && <p className="error" role="alert">{error}</p>}
      {rows === null && !error && <p className="muted">Loading…</p>}
      {rows?.length === 0 && <p>You are not a member of any project yet. Ask a manager to add you.</p>}
      <ul className="cards" aria-label="Projects">
        {rows?.map((row) => {
          const manages = row.role === "manager" || row.role === "admin";
          const sees = manages || row.role === "engineer";
          const trains = row.role === "engineer" || row.role === "admin";
          return (
            <li key={row.project.id} className="card" data-testid={`project-${row.project.id}`}>
              <h2 className="h3">{row.project.name}</h2>
              <p className="muted">
                {TYPE_LABEL[row.project.task_type] ?? row.project.task_type} · your role: {row.role}
              </p>
              <p>
                <strong data-testid="tasks-left">{row.tasks_left}</strong> tasks left for you · {row.judged_by_me} judged
                ({row.judged_today} today)
              </p>
              {row.paused && (
                <p className="warning" role="status">
                  Paused: {row.paused_reason || "a manager paused your work here."}
                </p>
              )}
              <div className="button-row">
                {!row.paused && (
                  <Link className="button primary" to={`/projects/${row.project.id}/annotate`} aria-label={`Start annotating ${row.project.name}`}>
                    Start
                  </Link>
                )}
                {sees && (
                  <Link className="button secondary" to={`/projects/${row.project.id}/dashboard`}>
                    Dashboard
                  </Link>
                )}
                {manages && (
                  <Link className="button secondary" to={`/projects/${row.project.id}/manage`}>
                    Manage
                  </Link>
                )}
                {trains && (
                  <Link className="button secondary" to={`/projects/${row.project.id}/iterations`}>
                    Iterations
                  </Link>
                )}
              </div>
            </li>
          );
        })}
      </ul>
      {me && (me.is_staff || me.is_superuser) && <NewProjectForm onCreated={(row) => setRows((current) => [...(current ?? []), row])} />}
    </div>
  );
}

function NewProjectForm({ onCreated }: { onCreated: (row: WorkloadRow) => void }) {
  const [name, setName] = useState("");
  const [taskType, setTaskType] = useState("pairwise");
  const [k, setK] = useState(2);
  const [overlap, setOverlap] = useState(1);
  const [error, setError] = useState("");
  return (
    <details className="card">
      <summary>New project</summary>
      <form
        className="stack"
        onSubmit={async (event) => {
          event.preventDefault();
          setError("");
          try {
            const { data } = await api.post<{ id: number; name: string; task_type: "pairwise" }>("/api/projects/", {
              name,
              task_type: taskType,
              responses_per_task: taskType === "pairwise" ? 2 : k,
              overlap,
              guidelines: "",
              criteria: [],
            });
            onCreated({ project: data, role: "manager", tasks_left: 0, judged_by_me: 0, judged_today: 0, paused: false, paused_reason: "" });
            setName("");
          } catch (caught) {
            setError((caught as Error).message);
          }
        }}
      >
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Task type
          <select value={taskType} onChange={(e) => setTaskType(e.target.value)}>
            <option value="pairwise">Pairwise (A/B)</option>
            <option value="ranking">Ranking of K</option>
            <option value="demonstration">Demonstration</option>
          </select>
        </label>
        {taskType === "ranking" && (
          <label>
            Responses per task (K)
            <input type="number" min={3} max={9} value={k} onChange={(e) => setK(Number(e.target.value))} />
          </label>
        )}
        <label>
          Judgements per task (overlap)
          <input type="number" min={1} max={50} value={overlap} onChange={(e) => setOverlap(Number(e.target.value))} />
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary">
          Create
        </button>
      </form>
    </details>
  );
}
