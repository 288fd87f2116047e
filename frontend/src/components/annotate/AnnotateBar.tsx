import type { ReactNode } from "react";
import { Link } from "react-router-dom";

/** The bar above the task: the way back, the project's name, progress, guidelines and keys. */
export function AnnotateBar({
  title,
  progress,
  guidelinesOpen,
  onToggleGuidelines,
  onShowKeys,
}: {
  title: string;
  progress: ReactNode;
  guidelinesOpen: boolean;
  onToggleGuidelines: () => void;
  onShowKeys: () => void;
}) {
  return (
    <div className="annotate-bar">
      <Link to="/">← Projects</Link>
      <h1 className="h2">{title}</h1>
      {progress}
      <button type="button" className="secondary" aria-expanded={guidelinesOpen} aria-controls="guidelines" onClick={onToggleGuidelines}>
        Guidelines <kbd>G</kbd>
      </button>
      <button type="button" className="secondary" onClick={onShowKeys} aria-label="Keyboard shortcuts">
        <kbd>?</kbd> Keys
      </button>
    </div>
  );
}
