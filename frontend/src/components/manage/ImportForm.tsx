import { useState, type FormEvent } from "react";
import { api } from "../../api/client";
import type { ImportReport } from "../../api/types";

/** Uploads a JSONL file and shows the import report, with every line that was not imported. */
export function ImportForm({ projectId, onImported }: { projectId: number; onImported: () => void }) {
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
