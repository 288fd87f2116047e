import type { TaskType } from "../api/types";
import { Dialog } from "./Dialog";

const COMMON: [string, string][] = [
  ["Enter", "Submit"],
  ["S", "Skip this task (with a reason)"],
  ["G", "Show or hide the guidelines"],
  ["U", "Undo the last submit (for a few seconds after it)"],
  ["?", "This cheat sheet"],
];

const BY_TYPE: Record<TaskType, [string, string][]> = {
  pairwise: [
    ["1", "A is better"],
    ["2", "B is better"],
    ["3", "Tie"],
    ["4", "Both bad"],
    ["then 1-4", "Strength: negligibly / slightly / clearly / significantly better"],
    ["Esc", "Clear the choice"],
  ],
  ranking: [
    ["1..K", "Put response n in the next rank"],
    ["= then 1..K", "Put response n in the same rank as the last one (a tie)"],
    ["Backspace", "Take back the last one"],
    ["Drag", "Drag a response onto a rank (tie) or between ranks"],
  ],
  demonstration: [["Ctrl+Enter", "Submit the answer from the editor"]],
};

export function CheatSheet({ taskType, onClose }: { taskType: TaskType; onClose: () => void }) {
  const rows = [...BY_TYPE[taskType], ...COMMON];
  return (
    <Dialog title="Keyboard shortcuts" onClose={onClose}>
      <table className="cheatsheet">
        <tbody>
          {rows.map(([key, meaning]) => (
            <tr key={key + meaning}>
              <th scope="row">
                <kbd>{key}</kbd>
              </th>
              <td>{meaning}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Dialog>
  );
}
