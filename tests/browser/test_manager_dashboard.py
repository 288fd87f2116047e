"""A manager watches agreement on the dashboard and sees it change after new judgements."""
import uuid

import pytest

from annotation.models import Membership
from annotation.services.assignments import assignment_next
from annotation.services.judgements import judgement_submit
from tests.annotation.factories import add_member, make_project, make_task, make_user
from tests.browser.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-123456"


def _judge(project, annotator, *, lower_id_wins: bool, time_ms: int = 4000) -> int:
    assignment = assignment_next(project=project, annotator=annotator)
    low, high = sorted(assignment.display_order)
    ranking = [[low], [high]] if lower_id_wins else [[high], [low]]
    judgement_submit(assignment_id=assignment.pk, annotator=annotator, client_id=str(uuid.uuid4()),
                     ranking=ranking, strength=2, time_spent_ms=time_ms)
    return assignment.task_id


def test_manager_sees_agreement_change_after_new_judgements(page_factory, screenshot):
    # Given: two annotators who agree on two tasks (overlap 2).
    manager = make_user("maria", staff=True, password=PASSWORD)
    project = make_project(manager=manager, name="Agreement watch", overlap=2)
    ann1, ann2 = add_member(project, make_user("ann1")), add_member(project, make_user("ann2"))
    for i in range(4):
        make_task(project, prompt_text=f"Question {i}")
    for lower_wins in (True, False):
        task = _judge(project, ann1, lower_id_wins=lower_wins)
        assert _judge(project, ann2, lower_id_wins=lower_wins) == task

    page, watch = page_factory()
    login(page, "maria", PASSWORD)
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_test_id("stat-alpha").wait_for()
    assert page.get_by_test_id("stat-percent").inner_text() == "100.0%"
    assert page.get_by_test_id("stat-alpha").inner_text() == "1.000"
    assert page.get_by_test_id("stat-items").inner_text() == "2"
    assert page.get_by_test_id("stat-judgements").inner_text() == "4"
    assert page.get_by_test_id("annotator-ann1").is_visible()

    # When: they disagree on the next two tasks.
    for first_says_lower in (True, False):
        task = _judge(project, ann1, lower_id_wins=first_says_lower)
        assert _judge(project, ann2, lower_id_wins=not first_says_lower) == task

    # (and the gold rule paused one of them)
    Membership.objects.filter(project=project, user=ann2).update(paused=True, paused_reason="Gold accuracy 20% over 5 gold items.")

    # Then: after a refresh the dashboard shows the lower agreement and the pause.
    page.get_by_role("button", name="Refresh").click()
    page.wait_for_function("() => document.querySelector('[data-testid=stat-percent]').textContent === '50.0%'")
    alpha = float(page.get_by_test_id("stat-alpha").inner_text())
    assert alpha < 0.5
    assert page.get_by_test_id("stat-items").inner_text() == "4"
    assert page.get_by_test_id("stat-complete").inner_text() == "4 / 4"
    assert "ann2 (Gold accuracy 20%" in page.get_by_test_id("paused-annotators").inner_text()
    screenshot(page, "07-dashboard")
    watch.assert_clean()

    # On a 390-px phone the dashboard reflows: nothing wider than the screen but scrollable tables.
    phone, phone_watch = page_factory(width=390, height=844)
    login(phone, "maria", PASSWORD)
    phone.goto(f"/projects/{project.pk}/dashboard")
    phone.get_by_test_id("stat-alpha").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone_watch.assert_clean()
