import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../api/client";
import type { Project } from "../api/types";
import { Exports } from "../components/manage/Exports";
import { GenerationProgress } from "../components/manage/GenerationProgress";
import { GoldTasks } from "../components/manage/GoldTasks";
import { ProjectPageHeader } from "../components/ProjectPageHeader";
import { ImportForm } from "../components/manage/ImportForm";
import { Members } from "../components/manage/Members";
import { SettingsForm } from "../components/manage/SettingsForm";

export function ManagePage() {
  const projectId = Number(useParams().projectId);
  const [project, setProject] = useState<Project | null>(null);
  const [error, setError] = useState("");
  const [imports, setImports] = useState(0);
  const load = useCallback(() => {
    api
      .get<Project>(`/api/projects/${projectId}/`)
      .then(({ data }) => setProject(data))
      .catch((caught) => setError((caught as Error).message));
  }, [projectId]);
  useEffect(load, [load]);

  return (
    <div className="page wide">
      <ProjectPageHeader projectName={project?.name} page="manage">
        <Link className="button secondary" to={`/projects/${projectId}/dashboard`}>
          Dashboard
        </Link>
      </ProjectPageHeader>
      {error && <p className="error" role="alert">{error}</p>}
      {project && (
        <>
          <GenerationProgress projectId={projectId} />
          <SettingsForm project={project} onSaved={setProject} />
          <Members projectId={projectId} />
          <ImportForm projectId={projectId} onImported={() => setImports((n) => n + 1)} />
          <Exports projectId={projectId} />
          <GoldTasks projectId={projectId} version={imports} />
        </>
      )}
    </div>
  );
}
