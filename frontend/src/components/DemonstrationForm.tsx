import { Markdown } from "./Markdown";

/** The annotator writes the ideal answer in markdown, with a live, sanitized preview. */
export function DemonstrationForm({ text, onChange }: { text: string; onChange: (text: string) => void }) {
  return (
    <div className="demo-editor">
      <label className="demo-input">
        Your ideal answer (markdown)
        <textarea
          name="demonstration"
          rows={12}
          value={text}
          onChange={(event) => onChange(event.target.value)}
          placeholder="Write the response you would want the assistant to give. Ctrl+Enter submits."
        />
      </label>
      <section className="demo-preview" aria-label="Preview">
        <div className="muted small">Preview</div>
        {text.trim() ? <Markdown source={text} /> : <p className="muted">Nothing written yet.</p>}
      </section>
    </div>
  );
}
