import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../api/client";
import type { Iteration, IterationEvaluation, TrainingJob } from "../api/types";
import { pct } from "../lib/outliers";
import { LineChart, ProgressBar } from "../components/Charts";
import { isLive, metricSeries } from "../lib/metrics";

const POLL_MS = 2000;

export function IterationDetailPage() {
  const iterationId = Number(useParams().iterationId);
  const [iteration, setIteration] = useState<Iteration | null>(null);
  const [error, setError] = useState("");
  const [cancelling, setCancelling] = useState(false);

  const load = useCallback(async () => {
    try {
      const { data } = await api.get<Iteration>(`/api/iterations/${iterationId}/`);
      setIteration(data);
      setError("");
    } catch (caught) {
      setError((caught as Error).message);
    }
  }, [iterationId]);

  useEffect(() => {
    void load();
  }, [load]);

  const live = isLive(iteration?.status);
  useEffect(() => {
    if (!live) return;
    const timer = window.setInterval(() => void load(), POLL_MS);
    return () => window.clearInterval(timer);
  }, [live, load]);

  async function resume() {
    try {
      await api.post(`/api/iterations/${iterationId}/resume/`, {});
      await load();
    } catch (caught) {
      setError((caught as Error).message);
    }
  }

  async function cancel() {
    setCancelling(true);
    try {
      await api.post(`/api/iterations/${iterationId}/cancel/`, {});
      await load();
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setCancelling(false);
    }
  }

  const jobs = iteration?.jobs ?? iteration?.steps ?? [];
  const projectId = iteration?.project;
  return (
    <div className="page wide">
      <p>{projectId ? <Link to={`/projects/${projectId}/iterations`}>← Iterations</Link> : <Link to="/">← Projects</Link>}</p>
      <div className="title-row">
        <h1>
          Iteration {iteration?.number ?? iterationId}{" "}
          {iteration && (
            <span className={`status status-${iteration.status}`} data-testid="iteration-status">
              {iteration.status}
            </span>
          )}
        </h1>
        {live && (
          <button type="button" className="danger" onClick={() => void cancel()} disabled={cancelling}>
            {cancelling ? "Cancelling…" : "Cancel iteration"}
          </button>
        )}
        {(iteration?.status === "failed" || iteration?.status === "cancelled") && (
          <button type="button" className="secondary" onClick={() => void resume()}>
            Resume from the first unfinished step
          </button>
        )}
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {iteration?.overoptimization_flag && (
        <p className="warning" role="alert">
          Overoptimization suspected: {iteration.overoptimization_reason || "the reward rose while people's judgements did not."}
        </p>
      )}
      {iteration?.error && <p className="error">{iteration.error}</p>}
      {iteration && typeof iteration.progress === "number" && <ProgressBar value={iteration.progress} label="Iteration progress" />}
      {iteration && (
        <p className="muted">
          {iteration.algorithm?.toUpperCase()} · trigger: {iteration.trigger ?? "manual"}
          {iteration.policy_before && ` · policy ${iteration.policy_before} → ${iteration.policy_after ?? "…"}`}
          {iteration.dataset_hash && ` · dataset ${String(iteration.dataset_hash).slice(0, 12)}`}
          {live && " · updating every 2 s"}
        </p>
      )}
      <ol className="steps" aria-label="Steps">
        {jobs.map((job) => (
          <Step key={job.step} job={job} />
        ))}
      </ol>
      {iteration?.evaluation && <Evaluation evaluation={iteration.evaluation} />}
    </div>
  );
}

function Step({ job }: { job: TrainingJob }) {
  const series = metricSeries(job.metrics_history);
  return (
    <li className="panel step" data-testid={`step-${job.step}`}>
      <div className="title-row">
        <h2 className="h3">{job.step.replace(/_/g, " ")}</h2>
        <span className={`status status-${job.status}`}>{job.status}</span>
      </div>
      <ProgressBar value={job.status === "succeeded" ? 1 : job.progress ?? 0} label={`Progress of ${job.step}`} />
      {job.error && <p className="error">{job.error}</p>}
      {job.artifact_path && (
        <p className="small">
          Artifacts: <code>{job.artifact_path}</code>
        </p>
      )}
      {job.metrics && Object.keys(job.metrics).length > 0 && (
        <dl className="metrics">
          {Object.entries(job.metrics).map(([key, value]) => (
            <div key={key}>
              <dt>{key}</dt>
              <dd>{typeof value === "number" ? (Number.isInteger(value) ? value : value.toFixed(4)) : JSON.stringify(value)}</dd>
            </div>
          ))}
        </dl>
      )}
      {series.length > 0 && (
        <div className="grid-2">
          {series.slice(0, 8).map((s) => (
            <LineChart key={s.name} title={s.name} series={[s]} height={140} />
          ))}
        </div>
      )}
      {job.log_tail && (
        <details>
          <summary>Log</summary>
          <pre className="log">{job.log_tail}</pre>
        </details>
      )}
    </li>
  );
}

function Evaluation({ evaluation }: { evaluation: IterationEvaluation }) {
  const agreement = evaluation.reward_model_agreement;
  return (
    <section className="panel" aria-labelledby="evaluation-heading">
      <h2 id="evaluation-heading">Human evaluation</h2>
      {evaluation.win_rates.length === 0 ? (
        <p className="muted">No evaluation judgements yet: the new policy's samples are waiting for annotators.</p>
      ) : (
        <table className="table compact">
          <caption>Win-rate of the new policy (ties count half; 95% bootstrap CI)</caption>
          <thead>
            <tr>
              <th scope="col">Against</th>
              <th scope="col">Win-rate</th>
              <th scope="col">95% CI</th>
              <th scope="col">Judgements</th>
            </tr>
          </thead>
          <tbody>
            {evaluation.win_rates.map((w) => (
              <tr key={w.opponent}>
                <th scope="row">{w.opponent}</th>
                <td>{pct(w.win_rate, 1)}</td>
                <td>
                  {pct(w.ci_low, 1)} – {pct(w.ci_high, 1)}
                </td>
                <td>{w.n_judgements}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {agreement && agreement.n > 0 && (
        <p>
          Reward model agrees with annotators on {pct(agreement.agreement, 1)} of {agreement.n} fresh pairs (95% CI {pct(agreement.ci_low, 1)} –{" "}
          {pct(agreement.ci_high, 1)}).
        </p>
      )}
      {evaluation.overoptimization?.flagged && <p className="warning">Overoptimization: {evaluation.overoptimization.reason}</p>}
    </section>
  );
}
