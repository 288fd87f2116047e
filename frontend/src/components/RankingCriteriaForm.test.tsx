import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { RankingCriteriaForm } from "./RankingCriteriaForm";

const ids = [11, 12, 13];

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
