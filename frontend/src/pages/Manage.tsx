import { useCallback, useEffect, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../api/client";
import type { ImportReport, Project } from "../api/types";
import { Markdown } from "../components/Markdown";
import { downloadFile } from "../lib/download";
import { formatRanking, parseRankingText } from "../lib/rankingText";

interface Member {
  user_id: number;
  username: string;
  role: string;
  is_ai: boolean;
  paused: boolean;
  paused_reason: string;
}

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

export function ManagePage() {
  const projectId = Number(useParams().projectId);
  const [project, setProject] = useState<Project | null>(null);
  const [error, setError] = useState("");
  const [imports, setImports] = useState(0);
  const load = useCallback(() => {
    api
      .get<Project>(`/api/projects/${projectId}/`)
      .then(({ data }) => setProject(data))
      .catch((caught) => setError((caught as Error).message));
  }, [projectId]);
  useEffect(load, [load]);

  return (
    <div className="page wide">
      <p>
        <Link to="/">← Projects</Link>
      </p>
      <div className="title-row">
        <h1>{project?.name ?? "Project"}: manage</h1>
        <div className="button-row">
          <Link className="button secondary" to={`/projects/${projectId}/dashboard`}>
            Dashboard
          </Link>
        </div>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {project && (
        <>
          <SettingsForm project={project} onSaved={setProject} />
          <Members projectId={projectId} />
          <ImportForm projectId={projectId} onImported={() => setImports((n) => n + 1)} />
          <Exports projectId={projectId} />
          <GoldTasks projectId={projectId} version={imports} />
        </>
      )}
    </div>
  );
}

function SettingsForm({ project, onSaved }: { project: Project; onSaved: (project: Project) => void }) {
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
  const [status, setStatus] = useState("");
  const [error, setError] = useState("");
  const set = (key: keyof typeof form) => (value: unknown) => setForm((f) => ({ ...f, [key]: value }));

  async function save(event: FormEvent) {
    event.preventDefault();
    setError("");
    setStatus("");
    try {
      const body = {
        ...form,
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
          <input type="number" min={0} value={form.retrain_threshold} onChange={(e) => set("retrain_threshold")(Number(e.target.value))} />
        </label>
        <label>
          Policy optimization
          <select value={form.algorithm} onChange={(e) => set("algorithm")(e.target.value)}>
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

function Members({ projectId }: { projectId: number }) {
  const [members, setMembers] = useState<Member[]>([]);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState("annotator");
  const [error, setError] = useState("");
  const load = useCallback(() => {
    api
      .get<Member[]>(`/api/projects/${projectId}/members/`)
      .then(({ data }) => setMembers(data))
      .catch((caught) => setError((caught as Error).message));
  }, [projectId]);
  useEffect(load, [load]);

  async function add(event: FormEvent) {
    event.preventDefault();
    setError("");
    try {
      await api.post(`/api/projects/${projectId}/members/`, { username, role, ...(password ? { password } : {}) });
      setUsername("");
      setPassword("");
      load();
    } catch (caught) {
      setError((caught as Error).message);
    }
  }

  async function update(member: Member, change: Partial<Member>) {
    setError("");
    try {
      await api.patch(`/api/projects/${projectId}/members/${member.user_id}/`, change);
      load();
    } catch (caught) {
      setError((caught as Error).message);
    }
  }

  return (
    <section className="panel" aria-labelledby="members-heading">
      <h2 id="members-heading">Members and roles</h2>
      <div className="table-scroll">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {members.map((member) => (
              <tr key={member.user_id}>
                <th scope="row">
                  {member.username}
                  {member.is_ai && <span className="tag">AI</span>}
                </th>
                <td>
                  <select aria-label={`Role of ${member.username}`} value={member.role} onChange={(e) => void update(member, { role: e.target.value })}>
                    <option value="annotator">annotator</option>
                    <option value="manager">manager</option>
                    <option value="engineer">engineer</option>
                  </select>
                </td>
                <td>
                  {member.paused ? (
                    <>
                      <span className="tag warn">paused</span> {member.paused_reason}{" "}
                      <button type="button" className="link" onClick={() => void update(member, { paused: false })}>
                        Unpause
                      </button>
                    </>
                  ) : (
                    <button type="button" className="link" onClick={() => void update(member, { paused: true, paused_reason: "Paused by a manager." })}>
                      Pause
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form onSubmit={add} className="inline-form">
        <label>
          Username
          <input value={username} onChange={(e) => setUsername(e.target.value)} required />
        </label>
        <label>
          Role
          <select aria-label="New member's role" value={role} onChange={(e) => setRole(e.target.value)}>
            <option value="annotator">annotator</option>
            <option value="manager">manager</option>
            <option value="engineer">engineer</option>
          </select>
        </label>
        <label>
          Password (creates the user)
          <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <button type="submit" className="primary">
          Add member
        </button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}

function ImportForm({ projectId, onImported }: { projectId: number; onImported: () => void }) {
  const [format, setFormat] = useState("tasks");
  const [purpose, setPurpose] = useState("training");
  const [file, setFile] = useState<File | null>(null);
  const [report, setReport] = useState<ImportReport | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function upload(event: FormEvent) {
    event.preventDefault();
    if (!file) return;
    setBusy(true);
    setError("");
    setReport(null);
    const form = new FormData();
    form.append("file", file);
    form.append("format", format);
    form.append("purpose", purpose);
    try {
      const { data } = await api.post<ImportReport>(`/api/projects/${projectId}/import/`, undefined, { form });
      setReport(data);
      onImported();
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="panel" aria-labelledby="import-heading">
      <h2 id="import-heading">Import</h2>
      <form onSubmit={upload} className="inline-form">
        <label>
          JSONL file
          <input type="file" accept=".jsonl,.json,.txt,.gz" onChange={(e) => setFile(e.target.files?.[0] ?? null)} required />
        </label>
        <label>
          Format
          <select value={format} onChange={(e) => setFormat(e.target.value)}>
            <option value="tasks">tasks: {"{prompt, responses}"}</option>
            <option value="hh">hh: Anthropic HH {"{chosen, rejected}"}</option>
            <option value="trl">trl: {"{prompt, chosen, rejected}"}</option>
            <option value="prompts">prompts: {"{prompt} or {messages}"}</option>
          </select>
        </label>
        <label>
          Purpose
          <select value={purpose} onChange={(e) => setPurpose(e.target.value)}>
            <option value="training">training</option>
            <option value="evaluation">evaluation</option>
            <option value="gold">gold</option>
          </select>
        </label>
        <button type="submit" className="primary" disabled={busy || !file}>
          {busy ? "Importing…" : "Import"}
        </button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      {report && (
        <div role="status" data-testid="import-report">
          <p>
            Created <strong>{report.created}</strong>, skipped <strong>{report.skipped_duplicates}</strong> duplicates,{" "}
            <strong>{report.errors.length}</strong> lines with errors.
          </p>
          {report.errors.length > 0 && (
            <table className="table compact">
              <caption>Lines not imported</caption>
              <thead>
                <tr>
                  <th scope="col">Line</th>
                  <th scope="col">Problem</th>
                </tr>
              </thead>
              <tbody>
                {report.errors.slice(0, 200).map((e) => (
                  <tr key={e.line}>
                    <td>{e.line}</td>
                    <td>{e.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </section>
  );
}

function Exports({ projectId }: { projectId: number }) {
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

function GoldTasks({ projectId, version }: { projectId: number; version: number }) {
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
