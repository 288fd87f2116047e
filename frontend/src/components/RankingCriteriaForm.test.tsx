import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { RankingCriteriaForm, criteriaRankings } from "./RankingCriteriaForm";

const ids = [11, 12, 13];

describe("criteriaRankings", () => {
  it("keeps valid rankings, skips empty boxes and names the first problem", () => {
    expect(criteriaRankings({ helpfulness: "2 > 1 = 3", honesty: " " }, ids)).toEqual({
      criteria: { helpfulness: [[12], [11, 13]] },
      problem: "",
    });
    const { criteria, problem } = criteriaRankings({ helpfulness: "1 > 2", harmlessness: "3 > 3 > 1" }, ids);
    expect(criteria).toEqual({});
    expect(problem).toBe("helpfulness: Rank every response; missing: 3.");
  });
});

function Harness({ onValues }: { onValues: (v: Record<string, string>) => void }) {
  const [values, setValues] = useState<Record<string, string>>({});
  return (
    <RankingCriteriaForm
      criteria={["helpfulness", "harmlessness"]}
      responseIds={ids}
      values={values}
      onChange={(v) => {
        setValues(v);
        onValues(v);
      }}
    />
  );
}

describe("RankingCriteriaForm", () => {
  it("shows a box per criterion and explains a wrong ranking right beside it", () => {
    const seen: Record<string, string>[] = [];
    render(<Harness onValues={(v) => seen.push(v)} />);
    const box = screen.getByLabelText("helpfulness");
    fireEvent.change(box, { target: { value: "4 > 1" } });
    expect(box).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByRole("status")).toHaveTextContent('"4" is not a response number from 1 to 3.');
    fireEvent.change(box, { target: { value: "3 > 1 = 2" } });
    expect(box).not.toHaveAttribute("aria-invalid");
    expect(screen.queryByRole("status")).toBeNull();
    expect(seen.at(-1)).toEqual({ helpfulness: "3 > 1 = 2" });
    expect(screen.getByLabelText("harmlessness")).toHaveValue("");
  });
});
