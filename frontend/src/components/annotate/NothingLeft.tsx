import { Link } from "react-router-dom";

/** Shown when the server has no task left for this annotator; the page keeps looking (see
 * useRecheckWhileVisible), and the annotator can look at once. */
export function NothingLeft({ onCheckAgain }: { onCheckAgain: () => void }) {
  return (
    <div className="empty">
      <h2>Nothing left for you here</h2>
      <p>
        Every task in this project has its judgements or has been yours already. Thank you! <Link to="/">Back to your projects</Link>
      </p>
      <p className="muted">
        Tasks that others hold come back if they leave them unfinished, and new ones arrive with each training
        iteration: this page looks again every minute.{" "}
        <button type="button" className="secondary" onClick={onCheckAgain}>
          Check again
        </button>
      </p>
    </div>
  );
}
