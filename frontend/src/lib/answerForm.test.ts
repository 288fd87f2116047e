import type { JudgementBody } from "../api/types";
import {
  EMPTY_ANSWER,
  answerFormFor,
  answerFormReducer,
  answerKind,
  answerProblem,
  judgementBody,
  type AnswerForm,
  type AnswerKind,
} from "./answerForm";

const PAIR = [21, 22];
const THREE = [31, 32, 33];
const sent = { clientId: "c-1", timeSpentMs: 1234 };

function press(kind: AnswerKind, ids: number[], ...keys: string[]): AnswerForm {
  return keys.reduce((form, key) => answerFormReducer(form, { type: "key", kind, key, responseIds: ids }), EMPTY_ANSWER);
}

describe("answerKind", () => {
  it("follows the project's type and the number of responses", () => {
    expect(answerKind("pairwise", 2)).toBe("pairwise");
    expect(answerKind("ranking", 3)).toBe("ranking");
    expect(answerKind("demonstration", 2)).toBe("demonstration");
    expect(answerKind("pairwise", 0)).toBe("demonstration");
  });
});

describe("answer keys", () => {
  it("gives a pairwise verdict and its strength, and Esc clears it", () => {
    const form = press("pairwise", PAIR, "2", "4");
    expect(form.pairwise).toEqual({ choice: "B", strength: 4 });
    expect(answerFormReducer(form, { type: "key", kind: "pairwise", key: "Escape", responseIds: PAIR }).pairwise).toEqual({
      choice: null,
      strength: null,
    });
  });

  it("ranks with digits, ties with '=' and takes back with Backspace", () => {
    expect(press("ranking", THREE, "3", "=", "1", "2").ranking.tiers).toEqual([[33, 31], [32]]);
    expect(press("ranking", THREE, "3", "1", "Backspace").ranking.tiers).toEqual([[33]]);
  });

  it("returns the same form for a key that means nothing, so the page leaves the key alone", () => {
    const form = press("pairwise", PAIR, "1");
    expect(answerFormReducer(form, { type: "key", kind: "pairwise", key: "x", responseIds: PAIR })).toBe(form);
    expect(answerFormReducer(EMPTY_ANSWER, { type: "key", kind: "pairwise", key: "Escape", responseIds: PAIR })).toBe(EMPTY_ANSWER);
    expect(answerFormReducer(EMPTY_ANSWER, { type: "key", kind: "ranking", key: "7", responseIds: THREE })).toBe(EMPTY_ANSWER);
    expect(answerFormReducer(EMPTY_ANSWER, { type: "key", kind: "demonstration", key: "1", responseIds: [] })).toBe(EMPTY_ANSWER);
  });

  it("keeps what else was entered when a key changes the verdict", () => {
    const edited = answerFormReducer(EMPTY_ANSWER, { type: "edit", change: { rationale: "A is safer.", flags: ["unsafe"] } });
    const form = answerFormReducer(edited, { type: "key", kind: "pairwise", key: "3", responseIds: PAIR });
    expect(form).toMatchObject({ rationale: "A is safer.", flags: ["unsafe"], pairwise: { choice: "tie" } });
  });
});

describe("answerProblem", () => {
  const rules = { rationaleRequired: false };

  it("asks for the missing part of a pairwise verdict", () => {
    expect(answerProblem(EMPTY_ANSWER, "pairwise", PAIR, rules)?.message).toBe("Pick a verdict (1-4) first.");
    expect(answerProblem(press("pairwise", PAIR, "1"), "pairwise", PAIR, rules)?.message).toBe("Pick the strength (1-4) first.");
    expect(answerProblem(press("pairwise", PAIR, "1", "2"), "pairwise", PAIR, rules)).toBeNull();
    expect(answerProblem(press("pairwise", PAIR, "4"), "pairwise", PAIR, rules)).toBeNull();
  });

  it("wants every response ranked and every typed criterion valid", () => {
    expect(answerProblem(press("ranking", THREE, "1", "2"), "ranking", THREE, rules)?.message).toBe("Rank every response first.");
    const ranked = press("ranking", THREE, "1", "2", "3");
    const typo = answerFormReducer(ranked, { type: "edit", change: { criteriaTexts: { helpfulness: "1 > 4" } } });
    expect(answerProblem(typo, "ranking", THREE, rules)?.message).toBe(
      'Criterion helpfulness: "4" is not a response number from 1 to 3. Fix it or clear the box.',
    );
    expect(answerProblem(ranked, "ranking", THREE, rules)).toBeNull();
  });

  it("wants a written answer, and a rationale where the project asks for one", () => {
    expect(answerProblem({ ...EMPTY_ANSWER, demoText: "  " }, "demonstration", [], rules)?.message).toBe("Write the answer first.");
    const written = { ...EMPTY_ANSWER, demoText: "Plants eat light." };
    expect(answerProblem(written, "demonstration", [], { rationaleRequired: true })).toEqual({
      message: "This project asks for a rationale: explain your choice in the box below.",
      field: "rationale",
    });
    expect(answerProblem({ ...written, rationale: "Simple words." }, "demonstration", [], { rationaleRequired: true })).toBeNull();
  });
});

describe("judgementBody", () => {
  it("sends a pairwise verdict in display order with its criteria", () => {
    const form = answerFormReducer(press("pairwise", PAIR, "2", "3"), {
      type: "edit",
      change: { criteriaValues: { helpfulness: "A", honesty: undefined, harmlessness: "tie" } },
    });
    expect(judgementBody(form, "pairwise", PAIR, sent)).toEqual({
      client_id: "c-1",
      time_spent_ms: 1234,
      rationale: "",
      flags: [],
      ranking: [[22], [21]],
      both_bad: false,
      strength: 3,
      criteria: { helpfulness: [[21], [22]], harmlessness: [[21, 22]] },
    });
  });

  it("sends a ranking with its typed criteria, and a demonstration as text", () => {
    const ranked = answerFormReducer(press("ranking", THREE, "2", "=", "3", "1"), {
      type: "edit",
      change: { criteriaTexts: { helpfulness: "1 > 2 = 3", honesty: "" } },
    });
    expect(judgementBody(ranked, "ranking", THREE, sent)).toMatchObject({
      ranking: [[32, 33], [31]],
      both_bad: false,
      criteria: { helpfulness: [[31], [32, 33]] },
    });
    const demo = judgementBody({ ...EMPTY_ANSWER, demoText: "Plants eat light." }, "demonstration", [], sent);
    expect(demo).toMatchObject({ ranking: [], text: "Plants eat light.", client_id: "c-1" });
  });
});

describe("answerFormFor (undo shows the earlier answer)", () => {
  const earlier = (body: Partial<JudgementBody>): JudgementBody => ({ client_id: "old", ranking: [], ...body });

  it("reads a pairwise verdict back in display order", () => {
    expect(answerFormFor(PAIR, earlier({ ranking: [[22], [21]], strength: 2 })).pairwise).toEqual({ choice: "B", strength: 2 });
    expect(answerFormFor(PAIR, earlier({ ranking: [[21, 22]], both_bad: true })).pairwise).toEqual({ choice: "both_bad", strength: null });
  });

  it("brings back a ranking, a written answer, the rationale and flags, and starts criteria afresh", () => {
    const form = answerFormFor(THREE, earlier({ ranking: [[33], [31, 32]], rationale: "why", flags: ["pii"] }));
    expect(form).toMatchObject({ ranking: { tiers: [[33], [31, 32]], tieNext: false }, rationale: "why", flags: ["pii"] });
    expect(form.criteriaTexts).toEqual({});
    expect(answerFormFor([], earlier({ text: "Again." })).demoText).toBe("Again.");
  });

  it("empties the form for a new task", () => {
    const dirty = press("pairwise", PAIR, "1", "2");
    expect(answerFormReducer(dirty, { type: "show", responseIds: PAIR })).toEqual(EMPTY_ANSWER);
  });
});
