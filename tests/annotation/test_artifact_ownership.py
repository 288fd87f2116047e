"""Two databases sharing one ARTIFACT_ROOT must not overwrite each other's iterations."""
import json

import pytest

from annotation.errors import DomainError
from annotation.models import Project
from annotation.services.iteration_snapshot import OWNER_FILE, project_artifacts_claim


@pytest.mark.django_db
def test_a_project_claims_its_artifact_directory_and_keeps_it(artifact_root):
    # Given a project using its artifact directory for the first time
    project = Project.objects.create(name="Summaries")
    directory = project_artifacts_claim(project)

    # Then the directory is marked as this project's, and claiming it again is fine
    assert directory == artifact_root / str(project.pk)
    mark = json.loads((directory / OWNER_FILE).read_text())
    assert mark == {"project_id": project.pk, "name": "Summaries", "created_at": project.created_at.isoformat()}
    assert project_artifacts_claim(project) == directory


@pytest.mark.django_db
def test_a_directory_marked_by_another_databases_project_is_refused(artifact_root):
    # Given the directory of project N written by another database's project N
    project = Project.objects.create(name="Summaries")
    directory = artifact_root / str(project.pk)
    directory.mkdir()
    (directory / OWNER_FILE).write_text(json.dumps(
        {"project_id": project.pk, "name": "Loop run (seed 1)", "created_at": "2026-01-01T00:00:00+00:00"}))

    # When this database's project claims it, the error names both and the way out
    with pytest.raises(DomainError) as error:
        project_artifacts_claim(project)
    assert "'Loop run (seed 1)'" in error.value.message
    assert "its own ARTIFACT_ROOT" in error.value.message
    # and the other project's mark is left as it was
    assert json.loads((directory / OWNER_FILE).read_text())["name"] == "Loop run (seed 1)"
