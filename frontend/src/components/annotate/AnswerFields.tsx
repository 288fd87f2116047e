import type { TaskResponseView } from "../../api/types";
import type { AnswerForm, AnswerKind } from "../../lib/answerForm";
import { DemonstrationForm } from "../DemonstrationForm";
import { ExtrasForm } from "../ExtrasForm";
import { CriteriaForm, PairwiseForm } from "../PairwiseForm";
import { RankingCriteriaForm } from "../RankingCriteriaForm";
import { RankingForm } from "../RankingForm";

/** The fields of one answer: the form for its kind, its criteria, then rationale and flags. */
export function AnswerFields({
  kind,
  responses,
  criteria,
  rationaleRequired,
  form,
  onEdit,
}: {
  kind: AnswerKind;
  responses: TaskResponseView[];
  criteria: string[];
  rationaleRequired: boolean;
  form: AnswerForm;
  onEdit: (change: Partial<AnswerForm>) => void;
}) {
  return (
    <>
      {kind === "demonstration" ? (
        <DemonstrationForm text={form.demoText} onChange={(demoText) => onEdit({ demoText })} />
      ) : kind === "pairwise" ? (
        <>
          <PairwiseForm responses={responses} state={form.pairwise} onChange={(pairwise) => onEdit({ pairwise })} />
          <CriteriaForm criteria={criteria} values={form.criteriaValues} onChange={(criteriaValues) => onEdit({ criteriaValues })} />
        </>
      ) : (
        <>
          <RankingForm responses={responses} state={form.ranking} onChange={(ranking) => onEdit({ ranking })} />
          <RankingCriteriaForm
            criteria={criteria}
            responseIds={responses.map((r) => r.id)}
            values={form.criteriaTexts}
            onChange={(criteriaTexts) => onEdit({ criteriaTexts })}
          />
        </>
      )}
      <ExtrasForm
        rationaleRequired={rationaleRequired}
        rationale={form.rationale}
        onRationale={(rationale) => onEdit({ rationale })}
        flags={form.flags}
        onFlags={(flags) => onEdit({ flags })}
      />
    </>
  );
}
