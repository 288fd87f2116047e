import { render, screen } from "@testing-library/react";
import { SessionProgress } from "./SessionProgress";

describe("SessionProgress", () => {
  it("shows the counts, the time per judged task and the share done", () => {
    render(<SessionProgress session={{ judged: 2, skipped: 1, timeMs: 50_000 }} tasksLeft={1} />);
    expect(screen.getByTestId("session")).toHaveTextContent("2 judged · 1 skipped · 1 left · 25s per task");
    expect(screen.getByRole("progressbar", { name: "Session progress" })).toHaveAttribute("aria-valuenow", "75");
  });

  it("shows no bar while the total is unknown", () => {
    render(<SessionProgress session={{ judged: 0, skipped: 0, timeMs: 0 }} tasksLeft={null} />);
    expect(screen.getByTestId("session")).toHaveTextContent(/^0 judged · 0 skipped$/);
    expect(screen.queryByRole("progressbar")).toBeNull();
  });
});
