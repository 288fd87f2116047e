import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import type { NextTask } from "../api/types";
import { AnnotatePage } from "./Annotate";

const inFifteenMinutes = () => new Date(Date.now() + 15 * 60_000).toISOString();

function pairwiseTask(assignmentId: number, left: number, right: number): NextTask {
  return {
    assignment: { id: assignmentId, expires_at: inFifteenMinutes() },
    task: {
      id: assignmentId * 10,
      prompt: `Question ${assignmentId}`,
      responses: [
        { id: left, text: `Answer ${left}` },
        { id: right, text: `Answer ${right}` },
      ],
    },
  };
}

/** The REST endpoints the page uses, answering one annotator with two tasks (11, then 12). */
function fakeServer() {
  const posted: { url: string; body: Record<string, unknown> }[] = [];
  let nextCalls = 0;
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const body = init.body ? JSON.parse(String(init.body)) : {};
      if ((init.method ?? "GET") === "POST") posted.push({ url, body });
      if (url === "/api/projects/1/") {
        return Response.json({ id: 1, name: "Helpfulness", task_type: "pairwise", criteria: [], guidelines: "", lease_seconds: 900 });
      }
      if (url === "/api/me/workload/") return Response.json([{ project: { id: 1 }, tasks_left: 2 }]);
      if (url === "/api/projects/1/next/") {
        nextCalls += 1;
        return nextCalls === 1 ? Response.json(pairwiseTask(11, 101, 102)) : new Response(null, { status: 204 });
      }
      if (url === "/api/projects/1/prefetch/") {
        return body.after === 11 ? Response.json(pairwiseTask(12, 202, 201)) : new Response(null, { status: 204 });
      }
      if (url === "/api/assignments/11/judgement/") return Response.json({ id: 501 }, { status: 201 });
      if (url === "/api/judgements/501/replace/") return Response.json({ id: 502 }, { status: 201 });
      if (url === "/api/assignments/12/skip/") return Response.json({ state: "skipped" });
      return Response.json({ detail: `unexpected ${url}` }, { status: 404 });
    }),
  );
  return posted;
}

const shownAssignment = () => document.querySelector("form[data-assignment-id]")?.getAttribute("data-assignment-id");
const press = (...keys: string[]) => keys.forEach((key) => fireEvent.keyDown(document.body, { key }));

describe("AnnotatePage", () => {
  beforeEach(() => {
    localStorage.clear();
    vi.stubGlobal("scrollTo", vi.fn());
  });
  afterEach(() => vi.unstubAllGlobals());

  it("judges from the keyboard, shows the prefetched task at once, undoes into a replacement and skips to the end", async () => {
    const posted = fakeServer();
    render(
      <MemoryRouter initialEntries={["/projects/1/annotate"]}>
        <Routes>
          <Route path="/projects/:projectId/annotate" element={<AnnotatePage />} />
        </Routes>
      </MemoryRouter>,
    );
    await waitFor(() => expect(shownAssignment()).toBe("11"));
    await screen.findByRole("heading", { name: "Helpfulness" });
    await waitFor(() => expect(screen.getByTestId("session")).toHaveTextContent("2 left"));

    // A better (1), strength 3, Enter: the task leased ahead is shown.
    press("1");
    press("3");
    expect(screen.getByRole("button", { name: /Submit/ })).toBeEnabled();
    press("Enter");
    await waitFor(() => expect(shownAssignment()).toBe("12"));
    await waitFor(() => expect(screen.getByTestId("session")).toHaveTextContent("1 judged · 0 skipped · 1 left"));
    const judgement = posted.find((p) => p.url === "/api/assignments/11/judgement/")!.body;
    expect(judgement).toMatchObject({ ranking: [[101], [102]], both_bad: false, strength: 3, rationale: "", flags: [] });

    // U: the first task again, its answer on screen; Esc, 4 (both bad) and Enter record a replacement.
    await screen.findByRole("button", { name: /Undo/ });
    press("u");
    await waitFor(() => expect(shownAssignment()).toBe("11"));
    expect(screen.getByText(/Changing your last answer/)).toBeInTheDocument();
    expect(screen.getByRole("radio", { name: /A is better/ })).toHaveAttribute("aria-checked", "true");
    expect(screen.queryByRole("button", { name: /Skip/ })).toBeNull();
    press("4"); // on a verdict that has a strength, a digit changes the strength
    expect(screen.getByRole("radio", { name: /Significantly better/ })).toHaveAttribute("aria-checked", "true");
    press("Escape");
    press("4");
    press("Enter");
    await waitFor(() => expect(shownAssignment()).toBe("12")); // the task it interrupted comes back
    const replacement = posted.find((p) => p.url === "/api/judgements/501/replace/")!.body;
    expect(replacement).toMatchObject({ ranking: [[101, 102]], both_bad: true, strength: null });
    expect(replacement.client_id).not.toBe(judgement.client_id);
    expect(screen.getByTestId("session")).toHaveTextContent("1 judged"); // a replacement is not another judgement

    // S, a reason, and nothing is left.
    press("s");
    fireEvent.click(await screen.findByRole("button", { name: "Skip task" }));
    await screen.findByRole("heading", { name: "Nothing left for you here" });
    expect(posted.find((p) => p.url === "/api/assignments/12/skip/")!.body).toEqual({ reason: "I lack the expertise" });
    expect(screen.getByTestId("session")).toHaveTextContent("1 judged · 1 skipped · 0 left");
    expect(posted.filter((p) => p.url === "/api/projects/1/next/")).toHaveLength(2);
  });

  it("says what is missing instead of submitting an incomplete verdict", async () => {
    const posted = fakeServer();
    render(
      <MemoryRouter initialEntries={["/projects/1/annotate"]}>
        <Routes>
          <Route path="/projects/:projectId/annotate" element={<AnnotatePage />} />
        </Routes>
      </MemoryRouter>,
    );
    await waitFor(() => expect(shownAssignment()).toBe("11"));
    press("2");
    press("Enter");
    expect(screen.getByTestId("task-error")).toHaveTextContent("Pick the strength (1-4) first.");
    expect(screen.getByRole("button", { name: /Submit/ })).toBeDisabled();
    expect(posted.some((p) => p.url.endsWith("/judgement/"))).toBe(false);
  });
});
