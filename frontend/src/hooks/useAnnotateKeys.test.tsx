import { fireEvent, render } from "@testing-library/react";
import { useState } from "react";
import type { KeyContext } from "../lib/annotateKeys";
import { useAnnotateKeys, type AnnotateKeyHandlers } from "./useAnnotateKeys";

const context: KeyContext = { dialogOpen: false, writing: false, hasTask: true, replacing: false, canUndo: true, answering: true };

function handlers(answerKey: (key: string) => boolean = () => false) {
  return {
    submit: vi.fn<() => void>(),
    showKeys: vi.fn<() => void>(),
    skip: vi.fn<() => void>(),
    toggleGuidelines: vi.fn<() => void>(),
    undo: vi.fn<() => void>(),
    answerKey: vi.fn(answerKey),
  } satisfies AnnotateKeyHandlers;
}

function Keys({ keyContext, on }: { keyContext: KeyContext; on: AnnotateKeyHandlers }) {
  useAnnotateKeys(keyContext, on);
  return <textarea aria-label="box" />;
}

describe("useAnnotateKeys", () => {
  it("runs the command of each key pressed on the page and cancels the browser's action for it", () => {
    const on = handlers();
    render(<Keys keyContext={context} on={on} />);
    expect(fireEvent.keyDown(document.body, { key: "Enter" })).toBe(false); // false: default prevented
    expect(fireEvent.keyDown(document.body, { key: "s" })).toBe(false);
    expect(fireEvent.keyDown(document.body, { key: "u" })).toBe(false);
    expect(fireEvent.keyDown(document.body, { key: "?" })).toBe(false);
    expect(fireEvent.keyDown(document.body, { key: "g" })).toBe(true);
    expect([on.submit, on.skip, on.undo, on.showKeys, on.toggleGuidelines].map((f) => f.mock.calls.length)).toEqual([1, 1, 1, 1, 1]);
  });

  it("cancels an answer key's default only when the key changed the answer", () => {
    const on = handlers((key) => key === "1");
    render(<Keys keyContext={context} on={on} />);
    expect(fireEvent.keyDown(document.body, { key: "1" })).toBe(false);
    expect(fireEvent.keyDown(document.body, { key: "9" })).toBe(true);
    expect(on.answerKey.mock.calls.map(([key]) => key)).toEqual(["1", "9"]);
  });

  it("ignores keys typed into a box and stops listening once unmounted", () => {
    const on = handlers();
    const { getByLabelText, unmount } = render(<Keys keyContext={context} on={on} />);
    fireEvent.keyDown(getByLabelText("box"), { key: "s" });
    expect(on.skip).not.toHaveBeenCalled();
    unmount();
    fireEvent.keyDown(document.body, { key: "Enter" });
    expect(on.submit).not.toHaveBeenCalled();
  });

  it("acts on what is on screen after each render", () => {
    const on = handlers();
    function Page() {
      const [dialogOpen, setDialogOpen] = useState(false);
      useAnnotateKeys({ ...context, dialogOpen }, { ...on, skip: () => setDialogOpen(true) });
      return null;
    }
    render(<Page />);
    fireEvent.keyDown(document.body, { key: "s" }); // opens the dialog ...
    fireEvent.keyDown(document.body, { key: "Enter" }); // ... which then has the keyboard
    expect(on.submit).not.toHaveBeenCalled();
  });
});
