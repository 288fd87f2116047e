"""A submit whose answer is lost on the network is sent again with the same client id and stored
exactly once; one that never reached the server is stored once too."""
import pytest
from playwright.sync_api import expect

from annotation.models import Judgement
from tests.annotation.factories import add_member, make_project, make_task, make_user
from tests.browser.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-123456"
# A function, not an expression: the page's CSP forbids eval, which Playwright polls an expression with.
OUTBOX_EMPTY = "() => localStorage.getItem('prefloop.outbox') === '{}'"


def test_submit_retried_after_network_failure_is_stored_once(page_factory, screenshot):
    annotator = make_user("carol", password=PASSWORD)
    project = make_project(name="Flaky network", criteria=["helpfulness", "harmlessness"])
    add_member(project, annotator)
    for i in range(3):
        make_task(project, prompt_text=f"Question {i}")

    page, watch = page_factory()
    login(page, "carol", PASSWORD)
    page.goto(f"/projects/{project.pk}/annotate")
    form = page.locator("form[data-assignment-id]")
    form.wait_for()

    sent: list[dict] = []
    failures = {"after_server": 1, "before_server": 0}

    def flaky(route):
        sent.append(route.request.post_data_json)
        if failures["after_server"]:
            # The server stores the judgement, but its answer never reaches the browser.
            failures["after_server"] -= 1
            route.fetch()
            route.abort("connectionreset")
        elif failures["before_server"]:
            failures["before_server"] -= 1
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/api/assignments/*/judgement/", flaky)

    # When: the first submit's answer is lost (a judgement with criteria, a flag and a rationale).
    first = int(form.get_attribute("data-assignment-id"))
    page.get_by_role("radiogroup", name="helpfulness").get_by_label("B").check()
    page.get_by_text("Rationale and flags").click()
    page.get_by_label("Rationale (optional)").fill("A is safer.")
    page.get_by_label("Unsafe").check()
    page.locator("body").focus()
    page.keyboard.press("1")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(old) => document.querySelector('form[data-assignment-id]')?.dataset.assignmentId !== String(old)", arg=first
    )
    # The prefetched task shows at once; the lost submit is re-sent in the background.
    page.wait_for_function(OUTBOX_EMPTY)
    # And: the second submit never reaches the server the first time.
    second = int(form.get_attribute("data-assignment-id"))
    failures["before_server"] = 1
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(old) => document.querySelector('form[data-assignment-id]')?.dataset.assignmentId !== String(old)", arg=second
    )
    page.wait_for_function(OUTBOX_EMPTY)

    # Then: each judgement exists once, sent twice with one client id.
    assert len(sent) == 4
    assert sent[0]["client_id"] == sent[1]["client_id"]
    assert sent[2]["client_id"] == sent[3]["client_id"] != sent[0]["client_id"]
    assert Judgement.objects.filter(assignment_id=first).count() == 1
    assert Judgement.objects.filter(assignment_id=second).count() == 1
    stored = Judgement.objects.get(assignment_id=first)
    assert stored.client_id == sent[0]["client_id"]
    shown = stored.assignment.display_order
    assert stored.criteria == {"helpfulness": [[shown[1]], [shown[0]]]}
    assert stored.flags == ["unsafe"] and stored.rationale == "A is safer."
    assert stored.ranking == [[shown[0]], [shown[1]]] and stored.strength == 2
    assert Judgement.objects.filter(project=project).count() == 2

    expect(page.get_by_test_id("session")).to_contain_text("2 judged")

    # And: a submit made offline survives a reload; the page sends it when it comes back.
    third = int(form.get_attribute("data-assignment-id"))
    page.unroute("**/api/assignments/*/judgement/")
    page.route("**/api/assignments/*/judgement/", lambda route: route.abort("internetdisconnected"))
    page.keyboard.press("2")
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    page.get_by_test_id("notice").wait_for()
    assert "sending your last answer again" in page.get_by_test_id("notice").inner_text()
    page.unroute("**/api/assignments/*/judgement/")
    page.reload()
    page.get_by_role("heading", name="Nothing left for you here").wait_for()
    page.wait_for_function(OUTBOX_EMPTY)
    offline = Judgement.objects.get(assignment_id=third)
    assert offline.strength == 4 and Judgement.objects.filter(project=project).count() == 3
    # The browser logs the aborted requests as console errors; nothing else may appear.
    watch.assert_clean(allow_console=("Failed to load resource",))
