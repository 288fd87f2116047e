import { annotateCommand, isTypingTarget, type KeyContext, type KeyPress } from "./annotateKeys";

const onScreen: KeyContext = { dialogOpen: false, writing: false, hasTask: true, replacing: false, canUndo: false, answering: true };

function element(html: string): HTMLElement {
  const holder = document.createElement("div");
  holder.innerHTML = html;
  return holder.firstElementChild as HTMLElement;
}

function press(key: string, extra: Partial<KeyPress> = {}): KeyPress {
  return { key, ctrlKey: false, altKey: false, metaKey: false, target: document.body, ...extra };
}

describe("annotateCommand", () => {
  it("hands digits and Esc to the answer while a task takes answers", () => {
    for (const key of ["1", "4", "Escape", "=", "Backspace"]) expect(annotateCommand(press(key), onScreen)?.command).toBe("answer");
    expect(annotateCommand(press("1"), { ...onScreen, answering: false })).toBeNull();
  });

  it("submits with Enter, but not from a focused button or link", () => {
    expect(annotateCommand(press("Enter"), onScreen)).toEqual({ command: "submit", preventDefault: true });
    expect(annotateCommand(press("Enter", { target: element("<button>Skip</button>") }), onScreen)).toBeNull();
    expect(annotateCommand(press("Enter", { target: element("<a href='/'>Projects</a>") }), onScreen)).toBeNull();
  });

  it("leaves keys typed into a box alone, except Ctrl+Enter for a written answer", () => {
    const box = element("<textarea></textarea>");
    expect(annotateCommand(press("1", { target: box }), onScreen)).toBeNull();
    expect(annotateCommand(press("s", { target: element("<input type='text'>") }), onScreen)).toBeNull();
    expect(annotateCommand(press("Enter", { target: box, ctrlKey: true }), onScreen)).toBeNull();
    expect(annotateCommand(press("Enter", { target: box, ctrlKey: true }), { ...onScreen, writing: true })?.command).toBe("submit");
    // a radio button is not a text box: digits still answer from it
    expect(annotateCommand(press("2", { target: element("<input type='radio'>") }), onScreen)?.command).toBe("answer");
  });

  it("skips with S unless an earlier answer is being changed, and undoes with U only while undo is offered", () => {
    expect(annotateCommand(press("s"), onScreen)?.command).toBe("skip");
    expect(annotateCommand(press("S"), { ...onScreen, replacing: true })?.command).toBe("answer");
    expect(annotateCommand(press("s"), { ...onScreen, hasTask: false, answering: false })).toBeNull();
    expect(annotateCommand(press("u"), onScreen)?.command).toBe("answer");
    expect(annotateCommand(press("U"), { ...onScreen, canUndo: true })).toEqual({ command: "undo", preventDefault: true });
  });

  it("shows the keys with ?, toggles guidelines with G, and ignores everything while a dialog is open", () => {
    expect(annotateCommand(press("?"), onScreen)?.command).toBe("showKeys");
    expect(annotateCommand(press("g"), { ...onScreen, answering: false })).toEqual({ command: "toggleGuidelines", preventDefault: false });
    const dialog = { ...onScreen, dialogOpen: true, writing: true, canUndo: true };
    for (const key of ["?", "Enter", "s", "u", "1"]) expect(annotateCommand(press(key), dialog)).toBeNull();
    expect(annotateCommand(press("Enter", { ctrlKey: true }), dialog)).toBeNull();
  });

  it("leaves shortcuts with Alt, Ctrl or Meta to the browser", () => {
    expect(annotateCommand(press("1", { altKey: true }), onScreen)).toBeNull();
    expect(annotateCommand(press("s", { metaKey: true }), onScreen)).toBeNull();
    expect(annotateCommand(press("u", { ctrlKey: true }), { ...onScreen, canUndo: true })).toBeNull();
  });
});

describe("isTypingTarget", () => {
  it("knows text boxes from buttons", () => {
    expect(isTypingTarget(element("<select></select>"))).toBe(true);
    expect(isTypingTarget(element("<input>"))).toBe(true);
    expect(isTypingTarget(element("<input type='checkbox'>"))).toBe(false);
    expect(isTypingTarget(element("<button></button>"))).toBe(false);
    expect(isTypingTarget(null)).toBe(false);
  });
});
