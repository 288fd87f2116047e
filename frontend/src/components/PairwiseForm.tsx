import type { TaskResponseView } from "../api/types";
import {
  CHOICE_LABELS,
  STRENGTH_LABELS,
  needsStrength,
  type Choice,
  type PairwiseState,
} from "../lib/pairwise";
import { ResponseCard } from "./ResponseCard";

const CHOICES: Choice[] = ["A", "B", "tie", "both_bad"];

/** Two responses side by side (stacked on narrow screens), the verdict and its strength. */
export function PairwiseForm({
  responses,
  state,
  onChange,
}: {
  responses: TaskResponseView[];
  state: PairwiseState;
  onChange: (state: PairwiseState) => void;
}) {
  const [a, b] = responses;
  return (
    <>
      <div className="responses two">
        <ResponseCard label="A" text={a.text} selected={state.choice === "A"} testId="response-A" />
        <ResponseCard label="B" text={b.text} selected={state.choice === "B"} testId="response-B" />
      </div>
      <fieldset className="choice-group">
        <legend>Which response is better?</legend>
        <div className="button-row" role="radiogroup" aria-label="Verdict">
          {CHOICES.map((choice, i) => (
            <button
              key={choice}
              type="button"
              role="radio"
              aria-checked={state.choice === choice}
              className={state.choice === choice ? "chip on" : "chip"}
              onClick={() => onChange({ choice, strength: needsStrength(choice) ? state.strength : null })}
            >
              <kbd>{i + 1}</kbd> {CHOICE_LABELS[choice]}
            </button>
          ))}
        </div>
      </fieldset>
      {needsStrength(state.choice) && (
        <fieldset className="choice-group">
          <legend>How much better is {state.choice}?</legend>
          <div className="button-row" role="radiogroup" aria-label="Strength">
            {[1, 2, 3, 4].map((strength) => (
              <button
                key={strength}
                type="button"
                role="radio"
                aria-checked={state.strength === strength}
                className={state.strength === strength ? "chip on" : "chip"}
                onClick={() => onChange({ ...state, strength })}
              >
                <kbd>{strength}</kbd> {STRENGTH_LABELS[strength]}
              </button>
            ))}
          </div>
        </fieldset>
      )}
    </>
  );
}

/** Per-criterion verdicts (helpfulness, harmlessness, …), each A / B / tie; optional. */
export function CriteriaForm({
  criteria,
  values,
  onChange,
}: {
  criteria: string[];
  values: Record<string, Choice | undefined>;
  onChange: (values: Record<string, Choice | undefined>) => void;
}) {
  if (!criteria.length) return null;
  return (
    <fieldset className="criteria">
      <legend>By criterion (optional)</legend>
      {criteria.map((criterion) => (
        <div key={criterion} className="criterion" role="radiogroup" aria-label={criterion}>
          <span className="criterion-name">{criterion}</span>
          {(["A", "B", "tie"] as Choice[]).map((choice) => (
            <label key={choice} className="inline">
              <input
                type="radio"
                name={`criterion-${criterion}`}
                checked={values[criterion] === choice}
                onChange={() => onChange({ ...values, [criterion]: choice })}
              />
              {choice === "tie" ? "Tie" : choice}
            </label>
          ))}
        </div>
      ))}
    </fieldset>
  );
}
