const FLAGS: [string, string][] = [
  ["unsafe", "Unsafe"],
  ["factually_wrong", "Factually wrong"],
  ["pii", "Contains personal data"],
  ["other", "Other problem"],
];

/** The rationale box (required when the project says so) and the flags of a judgement. */
export function ExtrasForm({
  rationaleRequired,
  rationale,
  onRationale,
  flags,
  onFlags,
}: {
  rationaleRequired: boolean;
  rationale: string;
  onRationale: (text: string) => void;
  flags: string[];
  onFlags: (flags: string[]) => void;
}) {
  return (
    <details className="extras" open={rationaleRequired || rationale.length > 0 || flags.length > 0}>
      <summary>Rationale and flags{rationaleRequired ? " (rationale required)" : ""}</summary>
      <label htmlFor="rationale">Rationale{rationaleRequired ? " (required)" : " (optional)"}</label>
      <textarea id="rationale" rows={3} value={rationale} onChange={(event) => onRationale(event.target.value)} />
      <fieldset className="flags">
        <legend>Flags</legend>
        {FLAGS.map(([value, label]) => (
          <label key={value} className="inline">
            <input
              type="checkbox"
              checked={flags.includes(value)}
              onChange={(event) => onFlags(event.target.checked ? [...flags, value] : flags.filter((f) => f !== value))}
            />
            {label}
          </label>
        ))}
      </fieldset>
    </details>
  );
}
