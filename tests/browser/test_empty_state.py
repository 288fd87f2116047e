"""An annotator who has run out of tasks gets new ones without reloading: a "Check again" button,
and a look every minute while the page is in view."""
import pytest

from tests.annotation.factories import add_member, make_project, make_task, make_user
from tests.browser.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-123456"


def _judge_the_shown_task(page) -> None:
    page.locator("form[data-assignment-id]").wait_for()
    page.keyboard.press("1")
    page.keyboard.press("3")
    page.keyboard.press("Enter")


def test_tasks_that_arrive_after_nothing_was_left_reach_the_waiting_annotator(page_factory):
    # Given: an annotator who judged the only task of a project.
    annotator = make_user("erin", password=PASSWORD)
    project = make_project(name="Trickle project")
    add_member(project, annotator)
    make_task(project, prompt_text="The only task at first")
    page, watch = page_factory()
    page.clock.install()  # the minute between looks passes at once below
    login(page, "erin", PASSWORD)
    page.goto(f"/projects/{project.pk}/annotate")
    _judge_the_shown_task(page)
    page.get_by_role("heading", name="Nothing left for you here").wait_for()

    # When a task arrives, "Check again" shows it.
    make_task(project, prompt_text="A task that came later")
    page.get_by_role("button", name="Check again").click()
    page.get_by_text("A task that came later").first.wait_for()
    _judge_the_shown_task(page)
    page.get_by_role("heading", name="Nothing left for you here").wait_for()

    # And when one arrives while the annotator waits, the page finds it within a minute by itself.
    make_task(project, prompt_text="A task that came while erin waited")
    page.clock.run_for(30_000)
    assert page.get_by_role("heading", name="Nothing left for you here").is_visible()
    page.clock.run_for(31_000)
    page.get_by_text("A task that came while erin waited").first.wait_for()
    watch.assert_clean()
