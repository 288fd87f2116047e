import { useState } from "react";
import { Dialog } from "./Dialog";

const SKIP_REASONS = ["I lack the expertise", "The prompt is unclear or broken", "The content is upsetting", "Other"];

/** Asks why the annotator skips the task (a reason is required). */
export function SkipDialog({ onSkip, onClose }: { onSkip: (reason: string) => void; onClose: () => void }) {
  const [choice, setChoice] = useState(SKIP_REASONS[0]);
  const [other, setOther] = useState("");
  const reason = choice === "Other" ? other.trim() : choice;
  return (
    <Dialog title="Skip this task" onClose={onClose}>
      <form
        className="stack"
        onSubmit={(event) => {
          event.preventDefault();
          if (reason) onSkip(reason);
        }}
      >
        <label>
          Why are you skipping it?
          <select name="reason" value={choice} onChange={(event) => setChoice(event.target.value)}>
            {SKIP_REASONS.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        {choice === "Other" && (
          <label>
            Your reason
            <input name="other-reason" value={other} onChange={(event) => setOther(event.target.value)} required />
          </label>
        )}
        <div className="button-row">
          <button type="submit" className="primary" disabled={!reason}>
            Skip task
          </button>
          <button type="button" className="secondary" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
