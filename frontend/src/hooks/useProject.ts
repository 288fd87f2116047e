import { useEffect, useRef, useState } from "react";
import { api } from "../api/client";
import type { Project } from "../api/types";

/** The project (null while it loads); `onError` hears why it could not be loaded. */
export function useProject(projectId: number, onError: (message: string) => void): Project | null {
  const [project, setProject] = useState<Project | null>(null);
  const latestOnError = useRef(onError);
  useEffect(() => {
    latestOnError.current = onError;
  });
  useEffect(() => {
    api
      .get<Project>(`/api/projects/${projectId}/`)
      .then(({ data }) => setProject(data))
      .catch((caught) => latestOnError.current((caught as Error).message));
  }, [projectId]);
  return project;
}
