import { Markdown } from "../Markdown";

/** The project's guidelines beside the task (markdown, rendered safely). */
export function Guidelines({ source }: { source: string | undefined }) {
  return (
    <aside id="guidelines" className="guidelines" aria-label="Guidelines">
      <h2 className="h3">Guidelines</h2>
      {source ? <Markdown source={source} /> : <p className="muted">This project has no guidelines.</p>}
    </aside>
  );
}
