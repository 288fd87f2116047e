import { fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { NothingLeft } from "./NothingLeft";

describe("NothingLeft", () => {
  it("offers to check again at once", () => {
    const onCheckAgain = vi.fn();
    render(
      <MemoryRouter>
        <NothingLeft onCheckAgain={onCheckAgain} />
      </MemoryRouter>,
    );
    expect(screen.getByRole("heading", { name: "Nothing left for you here" })).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "Check again" }));
    expect(onCheckAgain).toHaveBeenCalledTimes(1);
  });
});
