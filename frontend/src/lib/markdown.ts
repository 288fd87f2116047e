/**
 * Markdown to safe HTML for untrusted text (imported responses, prompts, guidelines).
 *
 * Three layers, because any one can have a bug: markdown-it with raw HTML disabled (so
 * `<script>` and `<img onerror>` stay text), DOMPurify over its output, and a hook that blocks
 * every remote resource (only `data:` images load; links open in a new tab without an opener).
 */
import MarkdownIt from "markdown-it";
import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";

hljs.registerLanguage("bash", bash);
hljs.registerLanguage("javascript", javascript);
hljs.registerLanguage("js", javascript);
hljs.registerLanguage("json", json);
hljs.registerLanguage("python", python);
hljs.registerLanguage("py", python);
hljs.registerLanguage("sql", sql);
hljs.registerLanguage("typescript", typescript);
hljs.registerLanguage("ts", typescript);
hljs.registerLanguage("html", xml);
hljs.registerLanguage("xml", xml);

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

const markdown = new MarkdownIt({
  html: false,
  linkify: true,
  breaks: true,
  highlight(code: string, language: string): string {
    const lang = language.trim().toLowerCase();
    if (lang && hljs.getLanguage(lang)) {
      try {
        const highlighted = hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
        return `<pre class="hljs"><code class="language-${escapeHtml(lang)}">${highlighted}</code></pre>`;
      } catch {
        /* fall through to plain text */
      }
    }
    return `<pre class="hljs"><code>${escapeHtml(code)}</code></pre>`;
  },
});

const purifier = DOMPurify();
let hooksInstalled = false;

function installHooks(): void {
  if (hooksInstalled || !purifier.isSupported) return;
  hooksInstalled = true;
  purifier.addHook("afterSanitizeAttributes", (node: Element) => {
    if (node.tagName === "IMG") {
      const src = node.getAttribute("src") ?? "";
      if (!src.startsWith("data:image/")) {
        // A remote image would leak that the annotator viewed this task; show its address instead.
        const placeholder = node.ownerDocument.createElement("span");
        placeholder.className = "blocked-image";
        placeholder.textContent = `[image not loaded: ${src || "no source"}]`;
        node.replaceWith(placeholder);
        return;
      }
      node.removeAttribute("srcset");
    }
    if (node.tagName === "A") {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
  });
}

const PURIFY_CONFIG = {
  ALLOWED_TAGS: [
    "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "img", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody",
    "td", "th", "thead", "tr", "ul",
  ],
  ALLOWED_ATTR: ["href", "src", "alt", "title", "class", "target", "rel", "start", "align"],
  FORBID_TAGS: ["style", "script", "iframe", "object", "embed", "form", "input", "svg", "math"],
  ALLOW_DATA_ATTR: false,
};

/** Renders untrusted markdown to HTML that is safe to insert with innerHTML. */
export function renderMarkdown(source: string): string {
  installHooks();
  const html = markdown.render(source ?? "");
  return purifier.sanitize(html, PURIFY_CONFIG) as string;
}
