import { act, render, screen } from "@testing-library/react";
import type { ResponseGeneration } from "../../api/types";
import { GENERATION_POLL_MS, GenerationProgress } from "./GenerationProgress";

function generation(fields: Partial<ResponseGeneration>): ResponseGeneration {
  return {
    id: 1, policy: "base", status: "running", prompts_done: 16, prompts_total: 163, samples_per_prompt: 2,
    tasks_created: 15, error: "", created_at: "2026-12-02T17:00:00Z", started_at: "2026-12-02T17:00:01Z",
    first_tasks_at: "2026-12-02T17:00:40Z", finished_at: null, ...fields,
  };
}

function serve(...bodies: unknown[]) {
  const fetchMock = vi.fn(async (_url: string, _init?: RequestInit) => {
    const body = bodies.length > 1 ? bodies.shift() : bodies[0];
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetchMock);
  return fetchMock;
}

describe("GenerationProgress", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it("shows how many prompts are done and keeps reading until the generation is done", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const fetchMock = serve([generation({})], [generation({ status: "succeeded", prompts_done: 163, tasks_created: 160 })]);
    render(<GenerationProgress projectId={7} />);

    expect(await screen.findByText(/16 of 163 prompts, 15 tasks created/)).toBeInTheDocument();
    expect(screen.getByRole("progressbar", { name: "Generation by base" })).toHaveAttribute("aria-valuenow", "10");
    expect(fetchMock.mock.calls[0][0]).toBe("/api/projects/7/generations/");

    await act(() => vi.advanceTimersByTimeAsync(GENERATION_POLL_MS));
    expect(await screen.findByText(/163 of 163 prompts, 160 tasks created/)).toBeInTheDocument();
    await act(() => vi.advanceTimersByTimeAsync(3 * GENERATION_POLL_MS));
    expect(fetchMock).toHaveBeenCalledTimes(2); // done: no more reads
  });

  it("shows the error of a failed generation", async () => {
    serve([generation({ status: "failed", prompts_done: 8, error: "generate failed: out of memory" })]);
    render(<GenerationProgress projectId={7} />);
    expect(await screen.findByRole("alert")).toHaveTextContent("Generation failed: generate failed: out of memory");
  });

  it("shows nothing for a project without generated responses", async () => {
    const fetchMock = serve([]);
    const { container } = render(<GenerationProgress projectId={7} />);
    await act(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20)); // the answer arrives and is rendered
    });
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(container).toBeEmptyDOMElement();
  });
});
