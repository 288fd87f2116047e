import { renderHook } from "@testing-library/react";
import { useRecheckWhileVisible } from "./useRecheckWhileVisible";

let visibility: DocumentVisibilityState = "visible";

describe("useRecheckWhileVisible", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    visibility = "visible";
    vi.spyOn(document, "visibilityState", "get").mockImplementation(() => visibility);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("looks again every minute while active and in view, and not while the page is hidden", () => {
    const recheck = vi.fn();
    renderHook(() => useRecheckWhileVisible(true, recheck, 60_000));
    vi.advanceTimersByTime(59_000);
    expect(recheck).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1_000);
    expect(recheck).toHaveBeenCalledTimes(1);
    visibility = "hidden";
    vi.advanceTimersByTime(120_000);
    expect(recheck).toHaveBeenCalledTimes(1);
    visibility = "visible";
    vi.advanceTimersByTime(60_000);
    expect(recheck).toHaveBeenCalledTimes(2);
  });

  it("stops once no longer active (a task came) and when the page goes away", () => {
    const recheck = vi.fn();
    const { rerender, unmount } = renderHook(({ active }) => useRecheckWhileVisible(active, recheck, 60_000), {
      initialProps: { active: true },
    });
    rerender({ active: false });
    vi.advanceTimersByTime(180_000);
    expect(recheck).not.toHaveBeenCalled();
    rerender({ active: true });
    unmount();
    vi.advanceTimersByTime(180_000);
    expect(recheck).not.toHaveBeenCalled();
  });
});
