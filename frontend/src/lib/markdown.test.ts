import { renderMarkdown } from "./markdown";

function dom(html: string): HTMLElement {
  const div = document.createElement("div");
  div.innerHTML = html;
  return div;
}

describe("renderMarkdown", () => {
  it("keeps raw HTML as visible text, never as elements", () => {
    const html = renderMarkdown('Hi <img src=x onerror=alert(1)> <script>window.pwned=1</script>');
    const root = dom(html);
    expect(root.querySelector("img")).toBeNull();
    expect(root.querySelector("script")).toBeNull();
    expect(root.textContent).toContain("<img src=x onerror=alert(1)>");
    expect(html).not.toMatch(/<script/i);
  });

  it("replaces remote images with a placeholder and keeps data: images", () => {
    const root = dom(renderMarkdown("![pixel](https://tracker.example/p.png) ![dot](data:image/png;base64,iVBORw0KGgo=)"));
    const images = root.querySelectorAll("img");
    expect(images).toHaveLength(1);
    expect(images[0].getAttribute("src")).toMatch(/^data:image\/png/);
    expect(root.querySelector(".blocked-image")?.textContent).toContain("https://tracker.example/p.png");
  });

  it("opens links in a new tab without an opener and drops javascript: links", () => {
    const root = dom(renderMarkdown("[ok](https://example.org) [bad](javascript:alert(1))"));
    const links = root.querySelectorAll("a");
    expect(links).toHaveLength(1);
    expect(links[0].getAttribute("target")).toBe("_blank");
    expect(links[0].getAttribute("rel")).toContain("noopener");
    expect(root.querySelector("a[href^=\"javascript\"]")).toBeNull();
  });

  it("highlights fenced code", () => {
    const root = dom(renderMarkdown("```python\ndef f():\n    return 1\n```"));
    expect(root.querySelector("pre code.language-python")).not.toBeNull();
    expect(root.querySelector(".hljs-keyword")?.textContent).toBe("def");
  });

  it("renders ordinary markdown", () => {
    const root = dom(renderMarkdown("**bold** and *it*\n\n- one\n- two"));
    expect(root.querySelector("strong")?.textContent).toBe("bold");
    expect(root.querySelectorAll("li")).toHaveLength(2);
  });
});
