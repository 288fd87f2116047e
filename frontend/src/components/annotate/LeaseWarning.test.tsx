import { act, fireEvent, render, screen } from "@testing-library/react";
import { LeaseWarning } from "./LeaseWarning";

describe("LeaseWarning", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-12-02T12:00:00Z"));
  });
  afterEach(() => vi.useRealTimers());

  it("says nothing early, counts down in the last minute, then offers a new task", () => {
    const onNewTask = vi.fn();
    render(<LeaseWarning expiresAt="2026-12-02T12:01:05Z" leaseSeconds={900} onNewTask={onNewTask} />);
    expect(screen.queryByTestId("lease-warning")).toBeNull();
    act(() => vi.advanceTimersByTime(6_000));
    expect(screen.getByTestId("lease-warning")).toHaveTextContent("runs out in 59 s");
    act(() => vi.advanceTimersByTime(59_000));
    expect(screen.getByTestId("lease-warning")).toHaveTextContent("has run out");
    fireEvent.click(screen.getByRole("button", { name: "Get a new task" }));
    expect(onNewTask).toHaveBeenCalledTimes(1);
  });
});
