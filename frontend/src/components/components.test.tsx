import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { EMPTY_PAIRWISE, type PairwiseState } from "../lib/pairwise";
import { EMPTY_RANKING, type RankingState } from "../lib/ranking";
import { CheatSheet } from "./CheatSheet";
import { PairwiseForm } from "./PairwiseForm";
import { RankingForm } from "./RankingForm";

const responses = [
  { id: 1, text: "First **answer**" },
  { id: 2, text: "Second <script>window.bad=1</script>" },
];

function PairwiseHarness({ onState }: { onState: (s: PairwiseState) => void }) {
  const [state, setState] = useState(EMPTY_PAIRWISE);
  return <PairwiseForm responses={responses} state={state} onChange={(s) => { setState(s); onState(s); }} />;
}

describe("PairwiseForm", () => {
  it("shows both responses rendered safely and asks for the strength after a preference", () => {
    const states: PairwiseState[] = [];
    render(<PairwiseHarness onState={(s) => states.push(s)} />);
    expect(screen.getByLabelText("Response A").querySelector("strong")?.textContent).toBe("answer");
    expect(document.querySelector("script")).toBeNull();
    expect(screen.queryByRole("radiogroup", { name: "Strength" })).toBeNull();
    fireEvent.click(screen.getByRole("radio", { name: /B is better/ }));
    expect(screen.getByRole("radiogroup", { name: "Strength" })).toBeInTheDocument();
    fireEvent.click(screen.getByRole("radio", { name: /Significantly better/ }));
    expect(states.at(-1)).toEqual({ choice: "B", strength: 4 });
    expect(screen.getByRole("radio", { name: /B is better/ })).toHaveAttribute("aria-checked", "true");
  });
});

function RankingHarness({ onState }: { onState: (s: RankingState) => void }) {
  const [state, setState] = useState(EMPTY_RANKING);
  const three = [...responses, { id: 3, text: "Third" }];
  return <RankingForm responses={three} state={state} onChange={(s) => { setState(s); onState(s); }} />;
}

describe("RankingForm", () => {
  it("places responses with buttons and shows their rank", () => {
    const states: RankingState[] = [];
    render(<RankingHarness onState={(s) => states.push(s)} />);
    const placeButtons = screen.getAllByRole("button", { name: "place next" });
    fireEvent.click(placeButtons[2]);
    expect(states.at(-1)?.tiers).toEqual([[3]]);
    expect(screen.getByLabelText("Response 3")).toHaveTextContent("rank 1");
    expect(screen.getByLabelText("Response 1")).toHaveTextContent("not ranked");
  });
});

describe("CheatSheet", () => {
  it("lists the pairwise keys and closes on Escape", () => {
    const onClose = vi.fn();
    render(<CheatSheet taskType="pairwise" onClose={onClose} />);
    expect(screen.getByRole("dialog", { name: "Keyboard shortcuts" })).toHaveTextContent("Both bad");
    fireEvent.keyDown(screen.getByRole("dialog"), { key: "Escape" });
    expect(onClose).toHaveBeenCalled();
  });
});
