import { useState, type FormEvent } from "react";
import { api } from "../../api/client";
import type { Project } from "../../api/types";
import { Markdown } from "../Markdown";

/** The project's annotation, quality-control and training settings (PATCH /api/projects/{id}/). */
export function SettingsForm({ project, onSaved }: { project: Project; onSaved: (project: Project) => void }) {
  const [form, setForm] = useState({
    guidelines: project.guidelines ?? "",
    criteria: (project.criteria ?? []).join(", "),
    overlap: project.overlap,
    rationale_required: Boolean(project.rationale_required),
    lease_seconds: project.lease_seconds ?? 900,
    gold_rate: project.gold_rate ?? 0,
    gold_min_items: project.gold_min_items ?? 5,
    gold_pause_threshold: project.gold_pause_threshold ?? 0,
    consensus_method: project.consensus_method ?? "majority",
    retrain_threshold: project.retrain_threshold ?? 0,
    algorithm: project.algorithm ?? "ppo",
  });
  // Training settings are the engineers' (and admins'); a manager sees them but cannot change them.
  const mayTrain = project.role === "engineer" || project.role === "admin";
  const trainingHint = mayTrain ? undefined : "Engineers change the training settings.";
  const [status, setStatus] = useState("");
  const [error, setError] = useState("");
  const set = (key: keyof typeof form) => (value: unknown) => setForm((f) => ({ ...f, [key]: value }));

  async function save(event: FormEvent) {
    event.preventDefault();
    setError("");
    setStatus("");
    try {
      const { retrain_threshold, algorithm, ...annotation } = form;
      const body = {
        ...annotation,
        ...(mayTrain ? { retrain_threshold, algorithm } : {}),
        criteria: form.criteria.split(",").map((c) => c.trim()).filter(Boolean),
      };
      const { data } = await api.patch<Project>(`/api/projects/${project.id}/`, body);
      onSaved(data);
      setStatus("Saved.");
    } catch (caught) {
      setError((caught as Error).message);
    }
  }

  return (
    <section className="panel" aria-labelledby="settings-heading">
      <h2 id="settings-heading">Settings</h2>
      <form onSubmit={save} className="form-grid">
        <label className="span-2">
          Guidelines (markdown)
          <textarea rows={6} value={form.guidelines} onChange={(e) => set("guidelines")(e.target.value)} />
        </label>
        <details className="span-2">
          <summary>Preview guidelines</summary>
          <Markdown source={form.guidelines} />
        </details>
        <label>
          Criteria (comma separated)
          <input value={form.criteria} onChange={(e) => set("criteria")(e.target.value)} placeholder="helpfulness, harmlessness" />
        </label>
        <label>
          Judgements per task (overlap)
          <input type="number" min={1} max={50} value={form.overlap} onChange={(e) => set("overlap")(Number(e.target.value))} />
        </label>
        <label>
          Lease time (seconds)
          <input type="number" min={10} value={form.lease_seconds} onChange={(e) => set("lease_seconds")(Number(e.target.value))} />
        </label>
        <label className="inline">
          <input type="checkbox" checked={form.rationale_required} onChange={(e) => set("rationale_required")(e.target.checked)} />
          Rationale required
        </label>
        <label>
          Gold rate (share of each stream)
          <input type="number" min={0} max={1} step={0.01} value={form.gold_rate} onChange={(e) => set("gold_rate")(Number(e.target.value))} />
        </label>
        <label>
          Gold items before the pause rule
          <input type="number" min={0} value={form.gold_min_items} onChange={(e) => set("gold_min_items")(Number(e.target.value))} />
        </label>
        <label>
          Pause below gold accuracy (0 = never)
          <input type="number" min={0} max={1} step={0.05} value={form.gold_pause_threshold} onChange={(e) => set("gold_pause_threshold")(Number(e.target.value))} />
        </label>
        <label>
          Consensus
          <select value={form.consensus_method} onChange={(e) => set("consensus_method")(e.target.value)}>
            <option value="majority">Majority vote</option>
            <option value="reliability">Weighted by reliability</option>
          </select>
        </label>
        <label>
          Retrain after this many new judgements (0 = manual)
          <input type="number" min={0} value={form.retrain_threshold} disabled={!mayTrain} title={trainingHint} onChange={(e) => set("retrain_threshold")(Number(e.target.value))} />
        </label>
        <label>
          Policy optimization
          <select value={form.algorithm} disabled={!mayTrain} title={trainingHint} onChange={(e) => set("algorithm")(e.target.value)}>
            <option value="ppo">PPO</option>
            <option value="dpo">DPO</option>
            <option value="rloo">RLOO</option>
          </select>
        </label>
        <div className="span-2 button-row">
          <button type="submit" className="primary">
            Save settings
          </button>
          {status && <span role="status">{status}</span>}
          {error && <span className="error" role="alert">{error}</span>}
        </div>
      </form>
    </section>
  );
}
