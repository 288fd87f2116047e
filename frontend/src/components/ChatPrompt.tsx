import type { ChatTurn } from "../api/types";
import { roleLabel } from "../lib/prompt";
import { Markdown } from "./Markdown";

/** The prompt as a conversation: one bubble per turn, the user's on the right. */
export function ChatPrompt({ turns }: { turns: ChatTurn[] }) {
  return (
    <section className="chat" aria-label="Prompt">
      {turns.map((turn, index) => (
        <div key={index} className={`turn turn-${turn.role.toLowerCase()}`}>
          <div className="turn-role">{roleLabel(turn.role)}</div>
          <Markdown source={turn.content} />
        </div>
      ))}
    </section>
  );
}
