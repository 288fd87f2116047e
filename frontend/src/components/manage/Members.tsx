import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api } from "../../api/client";

interface Member {
  user_id: number;
  username: string;
  role: string;
  is_ai: boolean;
  paused: boolean;
  paused_reason: string;
}

/** Members and their roles: add (creating the user when a password is given), change, pause. */
export function Members({ projectId }: { projectId: number }) {
  const [members, setMembers] = useState<Member[]>([]);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState("annotator");
  const [error, setError] = useState("");
  const load = useCallback(() => {
    api
      .get<Member[]>(`/api/projects/${projectId}/members/`)
      .then(({ data }) => setMembers(data))
      .catch((caught) => setError((caught as Error).message));
  }, [projectId]);
  useEffect(load, [load]);

  async function add(event: FormEvent) {
    event.preventDefault();
    setError("");
    try {
      await api.post(`/api/projects/${projectId}/members/`, { username, role, ...(password ? { password } : {}) });
      setUsername("");
      setPassword("");
      load();
    } catch (caught) {
      setError((caught as Error).message);
    }
  }

  async function update(member: Member, change: Partial<Member>) {
    setError("");
    try {
      await api.patch(`/api/projects/${projectId}/members/${member.user_id}/`, change);
      load();
    } catch (caught) {
      setError((caught as Error).message);
    }
  }

  return (
    <section className="panel" aria-labelledby="members-heading">
      <h2 id="members-heading">Members and roles</h2>
      <div className="table-scroll">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {members.map((member) => (
              <tr key={member.user_id}>
                <th scope="row">
                  {member.username}
                  {member.is_ai && <span className="tag">AI</span>}
                </th>
                <td>
                  <select aria-label={`Role of ${member.username}`} value={member.role} onChange={(e) => void update(member, { role: e.target.value })}>
                    <option value="annotator">annotator</option>
                    <option value="manager">manager</option>
                    <option value="engineer">engineer</option>
                  </select>
                </td>
                <td>
                  {member.paused ? (
                    <>
                      <span className="tag warn">paused</span> {member.paused_reason}{" "}
                      <button type="button" className="link" onClick={() => void update(member, { paused: false })}>
                        Unpause
                      </button>
                    </>
                  ) : (
                    <button type="button" className="link" onClick={() => void update(member, { paused: true, paused_reason: "Paused by a manager." })}>
                      Pause
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form onSubmit={add} className="inline-form">
        <label>
          Username
          <input value={username} onChange={(e) => setUsername(e.target.value)} required />
        </label>
        <label>
          Role
          <select aria-label="New member's role" value={role} onChange={(e) => setRole(e.target.value)}>
            <option value="annotator">annotator</option>
            <option value="manager">manager</option>
            <option value="engineer">engineer</option>
          </select>
        </label>
        <label>
          Password (creates the user)
          <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <button type="submit" className="primary">
          Add member
        </button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}
