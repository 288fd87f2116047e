import { criteriaRankings } from "../lib/rankingText";

/** Per-criterion rankings of K responses (helpfulness, harmlessness, …), typed like "2 > 1 = 3"; optional.
 * Text rather than a second drag board: it keeps the keyboard-first flow and fits any K. */
export function RankingCriteriaForm({
  criteria,
  responseIds,
  values,
  onChange,
}: {
  criteria: string[];
  responseIds: number[];
  values: Record<string, string>;
  onChange: (values: Record<string, string>) => void;
}) {
  if (!criteria.length) return null;
  const example = responseIds.length >= 3 ? "2 > 1 = 3" : "2 > 1";
  return (
    <fieldset className="criteria">
      <legend>By criterion (optional): response numbers, best first, "&gt;" between ranks, "=" for ties</legend>
      {criteria.map((criterion) => {
        const text = values[criterion] ?? "";
        const { problem } = criteriaRankings({ [criterion]: text }, responseIds);
        const id = `criterion-${criterion.replace(/\W+/g, "-")}`;
        return (
          <div key={criterion} className="criterion">
            <label htmlFor={id} className="criterion-name">
              {criterion}
            </label>
            <input
              id={id}
              type="text"
              inputMode="text"
              autoComplete="off"
              placeholder={`e.g. ${example}`}
              value={text}
              aria-invalid={problem ? true : undefined}
              aria-describedby={problem ? `${id}-problem` : undefined}
              data-testid={id}
              onChange={(event) => onChange({ ...values, [criterion]: event.target.value })}
            />
            {problem && text.trim() && (
              <span id={`${id}-problem`} className="error small" role="status">
                {problem.slice(criterion.length + 2)}
              </span>
            )}
          </div>
        );
      })}
    </fieldset>
  );
}
