import { useCallback, useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api } from "../api/client";
import type { Iteration, LeaderboardRow, Project } from "../api/types";
import { mainFields, readField, writeField } from "../lib/hyperparameters";
import { isLive } from "../lib/metrics";

const POLL_MS = 3000;

export function IterationsPage() {
  const projectId = Number(useParams().projectId);
  const navigate = useNavigate();
  const [project, setProject] = useState<Project | null>(null);
  const [iterations, setIterations] = useState<Iteration[] | null>(null);
  const [listError, setListError] = useState("");
  const [algorithm, setAlgorithm] = useState("ppo");
  const [hyperparameters, setHyperparameters] = useState("{}");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [leaderboard, setLeaderboard] = useState<LeaderboardRow[]>([]);

  const load = useCallback(async () => {
    try {
      const { data } = await api.get<Iteration[] | { results: Iteration[] }>(`/api/projects/${projectId}/iterations/`);
      setIterations(Array.isArray(data) ? data : data.results);
      setListError("");
    } catch (caught) {
      setListError((caught as Error).message);
    }
  }, [projectId]);

  useEffect(() => {
    api
      .get<Project>(`/api/projects/${projectId}/`)
      .then(({ data }) => {
        setProject(data);
        if (data.algorithm) setAlgorithm(data.algorithm);
        if (data.hyperparameters) setHyperparameters(JSON.stringify(data.hyperparameters, null, 2));
      })
      .catch((caught) => setError((caught as Error).message));
    void load();
    api
      .get<LeaderboardRow[]>(`/api/projects/${projectId}/leaderboard/`)
      .then(({ data }) => setLeaderboard(data))
      .catch(() => setLeaderboard([]));
  }, [projectId, load]);

  const anyLive = iterations?.some((it) => isLive(it.status));
  useEffect(() => {
    if (!anyLive) return;
    const timer = window.setInterval(() => void load(), POLL_MS);
    return () => window.clearInterval(timer);
  }, [anyLive, load]);

  async function start(event: FormEvent) {
    event.preventDefault();
    setError("");
    let parsed: unknown;
    try {
      parsed = JSON.parse(hyperparameters || "{}");
    } catch {
      setError("Hyperparameters must be a JSON object, e.g. {\"learning_rate\": 1e-5}.");
      return;
    }
    setBusy(true);
    try {
      const { data } = await api.post<Iteration>(`/api/projects/${projectId}/iterations/`, { algorithm, hyperparameters: parsed });
      navigate(`/iterations/${data.id}`);
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="page wide">
      <p>
        <Link to="/">← Projects</Link>
      </p>
      <h1>{project?.name ?? "Project"}: training iterations</h1>
      <section className="panel" aria-labelledby="start-heading">
        <h2 id="start-heading">Start an iteration</h2>
        <form onSubmit={start} className="form-grid">
          <label>
            Policy optimization
            <select value={algorithm} onChange={(e) => setAlgorithm(e.target.value)}>
              <option value="ppo">PPO (adaptive KL)</option>
              <option value="dpo">DPO</option>
              <option value="rloo">RLOO</option>
            </select>
          </label>
          <MainHyperparameters algorithm={algorithm} json={hyperparameters} onChange={setHyperparameters} />
          <label className="span-2">
            Hyperparameters (JSON)
            <textarea rows={4} className="mono" value={hyperparameters} onChange={(e) => setHyperparameters(e.target.value)} />
          </label>
          <div className="span-2 button-row">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? "Starting…" : "Start iteration"}
            </button>
            {error && <span className="error" role="alert">{error}</span>}
          </div>
        </form>
      </section>
      <section className="panel" aria-labelledby="list-heading">
        <h2 id="list-heading">Iterations</h2>
        {listError && <p className="muted">The list is not available: {listError}</p>}
        {iterations?.length === 0 && <p className="muted">No iterations yet.</p>}
        {iterations && iterations.length > 0 && (
          <div className="table-scroll">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Status</th>
                  <th scope="col">Algorithm</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Started</th>
                </tr>
              </thead>
              <tbody>
                {iterations.map((it) => (
                  <tr key={it.id}>
                    <th scope="row">
                      <Link to={`/iterations/${it.id}`}>Iteration {it.number ?? it.id}</Link>
                      {it.overoptimization_flag && <span className="tag warn">overoptimization</span>}
                    </th>
                    <td>
                      <span className={`status status-${it.status}`}>{it.status}</span>
                    </td>
                    <td>{it.algorithm}</td>
                    <td>{it.trigger}</td>
                    <td>{it.started_at ? new Date(it.started_at).toLocaleString() : "–"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {leaderboard.length > 0 && (
        <section className="panel" aria-labelledby="leaderboard-heading">
          <h2 id="leaderboard-heading">Policy leaderboard</h2>
          <table className="table compact">
            <caption>Bradley-Terry scores from human judgements (Elo scale, 95% CI)</caption>
            <thead>
              <tr>
                <th scope="col">Policy</th>
                <th scope="col">Score</th>
                <th scope="col">95% CI</th>
                <th scope="col">Judgements</th>
              </tr>
            </thead>
            <tbody>
              {leaderboard.map((row) => (
                <tr key={row.policy_id}>
                  <th scope="row">
                    {row.policy}
                    {row.is_reference && <span className="tag">reference</span>}
                  </th>
                  <td>{row.score}</td>
                  <td>
                    {row.ci_low} – {row.ci_high}
                  </td>
                  <td>{row.n_judgements}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}

/** Form fields for the main hyperparameters, kept in step with the JSON editor below them. */
function MainHyperparameters({ algorithm, json, onChange }: { algorithm: string; json: string; onChange: (json: string) => void }) {
  // What is being typed (e.g. "1e-" on the way to "1e-4") stays as typed until the field is left.
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  let values: Record<string, unknown> | null = null;
  try {
    const parsed = JSON.parse(json || "{}");
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) values = parsed;
  } catch {
    values = null;
  }
  return (
    <fieldset className="span-2 hyperparameters">
      <legend>Main hyperparameters (empty: the default)</legend>
      {values === null && <p className="muted">Fix the JSON below to edit these fields.</p>}
      <div className="form-grid">
        {mainFields(algorithm).map((field) => {
          const key = `${field.section}.${field.option}`;
          return (
            <label key={key}>
              {field.label}
              <input
                inputMode="decimal"
                disabled={values === null}
                value={drafts[key] ?? (values ? readField(values, field) : "")}
                onChange={(event) => {
                  const text = event.target.value;
                  setDrafts((current) => ({ ...current, [key]: text }));
                  if (values && (text.trim() === "" || Number.isFinite(Number(text)))) {
                    onChange(JSON.stringify(writeField(values, field, text), null, 2));
                  }
                }}
                onBlur={() =>
                  setDrafts((current) => {
                    const rest = { ...current };
                    delete rest[key];
                    return rest;
                  })
                }
              />
            </label>
          );
        })}
      </div>
    </fieldset>
  );
}
