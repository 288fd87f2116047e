"""A manager runs a project from the browser: settings, members and roles, a gold answer, an export."""
import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from annotation.models import ComparisonTask, Membership, Project
from annotation.services.assignments import assignment_next
from annotation.services.judgements import judgement_submit
from tests.annotation.factories import add_member, make_project, make_task, make_user, response_ids
from tests.browser.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-123456"


def test_manager_changes_settings_members_gold_and_exports(page_factory, screenshot):
    manager = make_user("mona", staff=True, password=PASSWORD)
    project = make_project(manager=manager, name="Managed project")
    annotator = add_member(project, make_user("dave"))
    task = make_task(project, prompt_text="Which is kinder?")
    make_task(project, prompt_text="Which is clearer?")
    assignment = assignment_next(project=project, annotator=annotator)
    judgement_submit(assignment_id=assignment.pk, annotator=annotator, client_id="m-1",
                     ranking=[[assignment.display_order[0]], [assignment.display_order[1]]], strength=2,
                     time_spent_ms=1234)

    page, watch = page_factory()
    login(page, "mona", PASSWORD)
    page.get_by_role("link", name="Manage", exact=True).click()

    # Settings: guidelines, criteria and overlap.
    page.get_by_label("Guidelines (markdown)").fill("# Be kind\nPrefer the **kinder** answer.")
    page.get_by_label("Criteria (comma separated)").fill("helpfulness, harmlessness")
    page.get_by_label("Judgements per task (overlap)").fill("3")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Saved.").wait_for()
    project.refresh_from_db()
    assert project.overlap == 3 and project.criteria == ["helpfulness", "harmlessness"]
    assert project.guidelines.startswith("# Be kind")

    # Members: a new engineer with a password; dave becomes a manager.
    page.get_by_label("Username", exact=True).fill("newbie")
    page.get_by_label("New member's role").select_option("engineer")
    page.get_by_label("Password (creates the user)").fill("a-long-password")
    page.get_by_role("button", name="Add member").click()
    page.get_by_role("rowheader", name="newbie").wait_for()
    newbie = get_user_model().objects.get(username="newbie")
    assert newbie.check_password("a-long-password")
    assert Membership.objects.get(project=project, user=newbie).role == "engineer"
    page.get_by_label("Role of dave").select_option("manager")
    page.wait_for_function("() => document.querySelector('[aria-label=\"Role of dave\"]').value === 'manager'")
    page.wait_for_timeout(300)
    assert Membership.objects.get(project=project, user=annotator).role == "manager"

    # Gold: the second response of the first task is the known best; a bad answer is explained.
    known = page.get_by_label(f"Known answer for task {task.pk}")
    known.fill("1 > 1")
    known.press("Enter")
    page.get_by_text("Response 1 appears twice.").wait_for()
    known.fill("2 > 1")
    known.press("Enter")
    page.get_by_role("button", name="Update gold").wait_for()
    task.refresh_from_db()
    first, second = response_ids(task)
    assert task.purpose == ComparisonTask.Purpose.GOLD and task.gold_ranking == [[second], [first]]

    # Export: every raw judgement, with display order and timing.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download judgements.jsonl").click()
    lines = Path(download.value.path()).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 1
    assert records[0]["time_spent_ms"] == 1234
    assert records[0]["display_order"] == assignment.display_order
    assert Project.objects.get(pk=project.pk).overlap == 3
    screenshot(page, "10-manage")
    watch.assert_clean()

    phone, phone_watch = page_factory(width=390, height=844)
    login(phone, "mona", PASSWORD)
    phone.goto(f"/projects/{project.pk}/manage")
    phone.get_by_role("rowheader", name="newbie").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone_watch.assert_clean()
