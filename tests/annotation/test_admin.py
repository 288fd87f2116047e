"""The admin pages render and their actions go through the services."""
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, Membership
from annotation.services.assignments import assignment_next
from tests.annotation.factories import add_member, make_project, make_task, make_user

pytestmark = pytest.mark.django_db


def test_admin_lists_render_and_actions_work(client):
    admin_user = make_user(superuser=True)
    client.force_login(admin_user)
    project = make_project()
    make_task(project)
    paused = add_member(project, paused=True, paused_reason="gold")
    assignment = assignment_next(project=project, annotator=add_member(project))
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for page in ("project", "membership", "prompt", "response", "comparisontask", "assignment", "judgement",
                 "iteration", "trainingjob"):
        assert client.get(f"/admin/annotation/{page}/").status_code == 200, page
    client.post("/admin/annotation/project/", {"action": "expire_lapsed_leases", "_selected_action": [project.pk]})
    assert Assignment.objects.get(pk=assignment.pk).state == Assignment.State.EXPIRED
    membership = Membership.objects.get(user=paused)
    client.post("/admin/annotation/membership/", {"action": "unpause", "_selected_action": [membership.pk]})
    membership.refresh_from_db()
    assert not membership.paused
