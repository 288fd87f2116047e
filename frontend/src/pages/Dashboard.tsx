import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../api/client";
import type { Agreement, AnnotatorAgreement, Dashboard, Project } from "../api/types";
import { BarChart, LineChart, ProgressBar } from "../components/Charts";
import { ProjectPageHeader } from "../components/ProjectPageHeader";
import { formatDuration } from "../lib/lease";
import { num, outlierIndexes, pct } from "../lib/outliers";

const REFRESH_MS = 15_000;

function shortHour(iso: string): string {
  const date = new Date(iso);
  return `${String(date.getUTCHours()).padStart(2, "0")}h`;
}

function shortDay(iso: string): string {
  return iso.slice(5, 10);
}

export function DashboardPage() {
  const projectId = Number(useParams().projectId);
  const [project, setProject] = useState<Project | null>(null);
  const [dashboard, setDashboard] = useState<Dashboard | null>(null);
  const [agreement, setAgreement] = useState<Agreement | null>(null);
  const [agreementError, setAgreementError] = useState("");
  const [error, setError] = useState("");
  const [loadedAt, setLoadedAt] = useState<Date | null>(null);

  const refresh = useCallback(async () => {
    const [p, d, a] = await Promise.allSettled([
      api.get<Project>(`/api/projects/${projectId}/`),
      api.get<Dashboard>(`/api/projects/${projectId}/dashboard/`),
      api.get<Agreement>(`/api/projects/${projectId}/agreement/`),
    ]);
    if (p.status === "fulfilled") setProject(p.value.data);
    if (d.status === "fulfilled") {
      setDashboard(d.value.data);
      setError("");
    } else setError((d.reason as Error).message);
    if (a.status === "fulfilled") {
      setAgreement(a.value.data);
      setAgreementError("");
    } else setAgreementError((a.reason as Error).message);
    setLoadedAt(new Date());
  }, [projectId]);

  useEffect(() => {
    void refresh();
    const timer = window.setInterval(() => void refresh(), REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [refresh]);

  return (
    <div className="page wide">
      <ProjectPageHeader projectName={project?.name} page="dashboard">
        <button type="button" className="secondary" onClick={() => void refresh()}>
          Refresh
        </button>
        {(project?.role === "manager" || project?.role === "admin") && (
          <Link className="button secondary" to={`/projects/${projectId}/manage`}>
            Manage
          </Link>
        )}
        {(project?.role === "engineer" || project?.role === "admin") && (
          <Link className="button secondary" to={`/projects/${projectId}/iterations`}>
            Iterations
          </Link>
        )}
      </ProjectPageHeader>
      {loadedAt && <p className="muted small">Updated {loadedAt.toLocaleTimeString()} (refreshes every 15 s)</p>}
      {error && <p className="error" role="alert">{error}</p>}

      {dashboard && (
        <section aria-label="Backlog" className="stats">
          <Stat label="Tasks complete" value={`${dashboard.tasks_complete} / ${dashboard.tasks_total}`} testId="stat-complete" />
          <Stat label="In progress" value={dashboard.tasks_in_progress} />
          <Stat label="Judgements" value={dashboard.judgements_total} testId="stat-judgements" />
          <Stat label="Judgements still needed" value={dashboard.judgements_needed} />
          <Stat label="Open leases" value={dashboard.active_leases} />
          <Stat label="Skips" value={dashboard.skips} />
          <div className="stat wide-stat">
            <ProgressBar value={dashboard.tasks_total ? dashboard.tasks_complete / dashboard.tasks_total : 0} label="Completion" />
          </div>
        </section>
      )}

      <section aria-label="Agreement" className="panel">
        <h2>Agreement</h2>
        {agreementError && <p className="muted">Agreement is not available: {agreementError}</p>}
        {agreement && (
          <>
            <div className="stats">
              <Stat label="Krippendorff's alpha" value={num(agreement.krippendorff_alpha, 3)} testId="stat-alpha" />
              <Stat label="Percent agreement" value={pct(agreement.percent_agreement, 1)} testId="stat-percent" />
              {agreement.fleiss_kappa !== undefined && <Stat label="Fleiss' kappa" value={num(agreement.fleiss_kappa, 3)} />}
              <Stat label="Items with 2+ judgements" value={agreement.n_items} testId="stat-items" />
              <Stat label="Judgements" value={agreement.n_judgements} />
            </div>
            {agreement.by_criterion && Object.keys(agreement.by_criterion).length > 0 && (
              <table className="table compact">
                <caption>By criterion</caption>
                <thead>
                  <tr>
                    <th scope="col">Criterion</th>
                    <th scope="col">Alpha</th>
                    <th scope="col">Percent agreement</th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries(agreement.by_criterion).map(([name, value]) => (
                    <tr key={name}>
                      <th scope="row">{name}</th>
                      <td>{num(value.krippendorff_alpha, 3)}</td>
                      <td>{pct(value.percent_agreement, 1)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <div className="grid-2">
              <LineChart
                title="Agreement per day"
                yRange={[Math.min(-0.1, ...(agreement.by_day ?? []).map((d) => d.krippendorff_alpha ?? 0)), 1]}
                series={[
                  { name: "Krippendorff's alpha", points: (agreement.by_day ?? []).map((d, i) => ({ x: i, y: d.krippendorff_alpha })) },
                  { name: "Percent agreement", points: (agreement.by_day ?? []).map((d, i) => ({ x: i, y: d.percent_agreement })) },
                ]}
                xLabels={(x) => shortDay(agreement.by_day[x]?.day ?? "")}
              />
              <BarChart
                title="Agreement with the others' majority, per annotator (%)"
                bars={(agreement.annotators ?? [])
                  .filter((a) => a.agreement_with_majority != null)
                  .map((a) => ({ label: a.username, value: Math.round((a.agreement_with_majority ?? 0) * 100) }))}
              />
            </div>
            <AnnotatorTable annotators={agreement.annotators ?? []} />
          </>
        )}
      </section>

      {dashboard && (
        <section aria-label="Throughput and distributions" className="grid-2">
          <BarChart title="Judgements per hour (last 48 h, UTC)" bars={dashboard.throughput_hourly.map((b) => ({ label: shortHour(b.t), value: b.n }))} />
          <BarChart title="Judgements per day (last 30 days)" bars={dashboard.throughput_daily.map((b) => ({ label: shortDay(b.t), value: b.n }))} />
          <BarChart title="Strength of preferences" bars={dashboard.strength_distribution.map((b) => ({ label: ["", "negligible", "slight", "better", "significant"][b.strength], value: b.n }))} />
          <BarChart
            title="Verdicts (by screen side)"
            bars={dashboard.outcome_distribution.map((b) => ({ label: b.outcome.replace("_", " "), value: b.n }))}
          />
        </section>
      )}
    </div>
  );
}

function Stat({ label, value, testId }: { label: string; value: string | number; testId?: string }) {
  return (
    <div className="stat">
      <div className="stat-value" data-testid={testId}>
        {value}
      </div>
      <div className="stat-label">{label}</div>
    </div>
  );
}

const COLUMNS: { key: keyof AnnotatorAgreement; label: string; format: (v: AnnotatorAgreement) => string }[] = [
  { key: "n", label: "Judgements", format: (a) => String(a.n) },
  { key: "median_ms", label: "Median time", format: (a) => (a.median_ms == null ? "–" : formatDuration(a.median_ms)) },
  { key: "agreement_with_majority", label: "Agreement with majority", format: (a) => pct(a.agreement_with_majority) },
  { key: "gold_accuracy", label: "Gold accuracy", format: (a) => pct(a.gold_accuracy) },
  { key: "left_rate", label: "Left-side rate", format: (a) => pct(a.left_rate) + (a.left_rate_p != null && a.left_rate_p < 0.05 ? ` (p=${a.left_rate_p.toPrecision(2)})` : "") },
  { key: "tie_rate", label: "Tie rate", format: (a) => pct(a.tie_rate) },
  { key: "flags_raised", label: "Flags raised", format: (a) => (a.flags_raised == null ? "–" : String(a.flags_raised)) },
  { key: "reliability", label: "Reliability", format: (a) => num(a.reliability) },
];

function AnnotatorTable({ annotators }: { annotators: AnnotatorAgreement[] }) {
  const paused = annotators.filter((a) => a.paused);
  const outliers = Object.fromEntries(
    COLUMNS.map((column) => [column.key, outlierIndexes(annotators.map((a) => a[column.key] as number | null))]),
  ) as Record<string, Set<number>>;
  return (
    <div className="table-scroll">
      {paused.length > 0 && (
        <p className="warning" role="status" data-testid="paused-annotators">
          Paused: {paused.map((a) => `${a.username}${a.paused_reason ? ` (${a.paused_reason})` : ""}`).join("; ")}. Unpause them under
          Manage → Members once reviewed.
        </p>
      )}
      <table className="table" aria-label="Annotators">
        <caption>Per annotator (highlighted: flagged, or far from the others)</caption>
        <thead>
          <tr>
            <th scope="col">Annotator</th>
            {COLUMNS.map((c) => (
              <th key={c.key} scope="col">
                {c.label}
              </th>
            ))}
            <th scope="col">Flagged because</th>
          </tr>
        </thead>
        <tbody>
          {annotators.map((annotator, index) => {
            const flagged = (annotator.flagged_reasons ?? []).length > 0;
            return (
              <tr key={annotator.username} className={flagged ? "flagged" : undefined} data-testid={`annotator-${annotator.username}`}>
                <th scope="row">
                  {annotator.username}
                  {annotator.paused && <span className="tag">paused</span>}
                </th>
                {COLUMNS.map((c) => (
                  <td key={c.key} className={outliers[c.key].has(index) ? "outlier" : undefined}>
                    {c.format(annotator)}
                  </td>
                ))}
                <td>{(annotator.flagged_reasons ?? []).join("; ") || "–"}</td>
              </tr>
            );
          })}
          {annotators.length === 0 && (
            <tr>
              <td colSpan={COLUMNS.length + 2} className="muted">
                No judgements yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
