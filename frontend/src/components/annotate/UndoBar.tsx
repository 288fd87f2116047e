/** "Submitted." with the way back to the answer just given (U, for a few seconds). */
export function UndoBar({ onUndo }: { onUndo: () => void }) {
  return (
    <div className="undo-bar" role="status">
      Submitted.{" "}
      <button type="button" className="secondary" onClick={onUndo}>
        Undo <kbd>U</kbd>
      </button>
    </div>
  );
}
