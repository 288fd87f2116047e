import type { ReactNode } from "react";
import { Link } from "react-router-dom";

/** The top of a project's page: the way back to the projects, "<project>: <page>" and its buttons. */
export function ProjectPageHeader({ projectName, page, children }: { projectName?: string; page: string; children?: ReactNode }) {
  return (
    <>
      <p>
        <Link to="/">← Projects</Link>
      </p>
      <div className="title-row">
        <h1>
          {projectName ?? "Project"}: {page}
        </h1>
        <div className="button-row">{children}</div>
      </div>
    </>
  );
}
