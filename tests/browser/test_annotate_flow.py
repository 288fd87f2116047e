"""An annotator's session in a real browser: keyboard-only pairwise judgements, undo, skip, a
K-way ranking with keys and drag and drop, a written demonstration; all of it lands in Postgres."""
import pytest
from playwright.sync_api import expect

from annotation.models import Assignment, Judgement
from annotation.services.tasks import prompt_get_or_create, response_get_or_create, task_create
from tests.annotation.factories import add_member, make_project, make_task, make_user
from tests.browser.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-123456"


CONVERSATION = [
    {"role": "user", "content": "How do I reverse a list in Python?"},
    {"role": "assistant", "content": "Do you want a new list, or to reverse it in place?"},
    {"role": "user", "content": "A new list, please. Keep the original."},
]
ANSWERS = [
    "Use slicing, which returns a **new** list:\n\n```python\nnumbers = [1, 2, 3]\nbackwards = numbers[::-1]\n```\n\n"
    "`numbers` is unchanged.",
    "Call `reverse()`:\n\n```python\nnumbers.reverse()\n```\n\nThis changes the list in place.",
]


def _conversation_task(project):
    """A multi-turn prompt with markdown and code in the answers, shown first (highest priority)."""
    prompt, _ = prompt_get_or_create(project=project, messages=CONVERSATION)
    responses = [response_get_or_create(prompt=prompt, text=text) for text in ANSWERS]
    task_create(project=project, prompt=prompt, responses=responses, priority=10)


def _wait_for_prefetches(page, n: int) -> None:
    """Waits until the page has finished `n` prefetch requests (a person reads for seconds; the
    test presses keys within milliseconds, so it waits for what a person would never notice)."""
    page.wait_for_function(
        "(n) => performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/prefetch/')).length >= n",
        arg=n,
    )


def _shown_task(page):
    form = page.locator("form[data-assignment-id]")
    form.wait_for()
    return int(form.get_attribute("data-assignment-id"))


def _wait_for_new_task(page, previous_assignment_id: int) -> int:
    page.wait_for_function(
        "(old) => { const f = document.querySelector('form[data-assignment-id]');"
        " return f && f.dataset.assignmentId !== String(old); }",
        arg=previous_assignment_id,
    )
    return _shown_task(page)


def test_annotator_judges_ranks_writes_and_skips(page_factory, screenshot):
    # Given: three projects (pairwise, ranking of 3, demonstration) with one annotator in each.
    annotator = make_user("alice", password=PASSWORD)
    pairwise = make_project(name="Pairwise project", guidelines="Prefer **helpful** answers.", criteria=["helpfulness"])
    ranking = make_project(name="Ranking project", task_type="ranking", responses_per_task=3,
                           criteria=["helpfulness", "harmlessness"])
    demos = make_project(name="Demonstration project", task_type="demonstration", responses_per_task=2)
    for project in (pairwise, ranking, demos):
        add_member(project, annotator)
    _conversation_task(pairwise)
    for i in range(3):
        make_task(pairwise, prompt_text=f"Pairwise question {i}")
    make_task(ranking, prompt_text="Rank these answers")
    make_task(demos, n_responses=0, prompt_text="Explain photosynthesis to a child")

    page, watch = page_factory()
    page.goto("/")
    screenshot(page, "01-login")
    login(page, "alice", PASSWORD)
    card = page.get_by_test_id(f"project-{pairwise.pk}")
    assert card.get_by_test_id("tasks-left").inner_text() == "4"
    screenshot(page, "02-projects")

    # When: the annotator starts the pairwise project from the keyboard ...
    for _ in range(15):  # Tab to the project's Start link; focus must be visible on the way
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement; const style = getComputedStyle(e);"
            " return {label: e.getAttribute('aria-label') || e.textContent, outline: style.outlineStyle,"
            " width: parseFloat(style.outlineWidth)}; }"
        )
        assert focused["outline"] != "none" and focused["width"] >= 2, f"no visible focus on {focused['label']}"
        if focused["label"] == "Start annotating Pairwise project":
            break
    else:
        raise AssertionError("the Start link is not reachable with Tab")
    page.keyboard.press("Enter")
    first = _shown_task(page)
    assert page.locator(".chat .turn").count() == 3
    assert page.locator(".response .hljs-keyword, .response .hljs-built_in, .response code.language-python").count() >= 1

    # (the same task on a 390-px phone screen: stacked, no horizontal scrolling)
    _wait_for_prefetches(page, 1)
    phone, phone_watch = page_factory(width=390, height=844)
    login(phone, "alice", PASSWORD)
    phone.goto(f"/projects/{pairwise.pk}/annotate")
    # (a second tab gets one of the two tasks alice holds: the current one or the one prefetched)
    shown_on_phone = _shown_task(phone)
    live = set(Assignment.objects.filter(annotator=annotator, state="active").values_list("pk", flat=True))
    assert first in live and len(live) == 2 and shown_on_phone in live
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.wait_for_load_state("networkidle")
    a_bottom, b_top = phone.evaluate(
        "() => [document.querySelector('[data-testid=response-A]').getBoundingClientRect().bottom,"
        " document.querySelector('[data-testid=response-B]').getBoundingClientRect().top]"
    )
    assert b_top >= a_bottom, "responses stack on a narrow screen"
    screenshot(phone, "08-pairwise-phone")
    phone_watch.assert_clean()

    # ... and judges three tasks with keys only: A by 3, B by 1, a tie.
    page.keyboard.press("?")
    page.get_by_role("dialog", name="Keyboard shortcuts").wait_for()
    screenshot(page, "04-cheat-sheet", full_page=False)
    page.keyboard.press("Escape")
    page.keyboard.press("1")
    page.keyboard.press("3")
    assert page.get_by_role("radio", name="3 Better").get_attribute("aria-checked") == "true"
    screenshot(page, "03-pairwise")
    page.keyboard.press("Enter")
    second = _wait_for_new_task(page, first)
    _wait_for_prefetches(page, 2)
    page.keyboard.press("2")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    third = _wait_for_new_task(page, second)
    _wait_for_prefetches(page, 3)
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    fourth = _wait_for_new_task(page, third)
    expect(page.get_by_test_id("session")).to_contain_text("3 judged")

    # Undo: U brings the tie back; 4 (both bad) replaces it; the held task comes back after.
    page.keyboard.press("u")
    page.get_by_text("Changing your last answer").wait_for()
    assert _shown_task(page) == third
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    assert _wait_for_new_task(page, third) == fourth

    # Skip the fourth with a reason.
    page.keyboard.press("s")
    page.get_by_role("dialog", name="Skip this task").wait_for()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Nothing left for you here").wait_for()
    # Every task after the first came prefetched: /next/ was asked only at the start and at the end.
    asked = lambda endpoint: [u for u in watch.requests if u.endswith(f"/api/projects/{pairwise.pk}/{endpoint}/")]  # noqa: E731
    assert len(asked("next")) == 2, " ".join(u.split("/api/")[1] for u in watch.requests if "/api/" in u)
    assert len(asked("prefetch")) >= 4

    # A K-way ranking: key 3 then key 1, then drag response 2 onto rank 1 (a tie with 3).
    page.goto(f"/projects/{ranking.pk}/annotate")
    ranking_assignment = _shown_task(page)
    page.keyboard.press("3")
    page.keyboard.press("1")
    page.get_by_test_id("chip-2").drag_to(page.get_by_test_id("tier-1"))
    assert "tie" in page.get_by_test_id("tier-1").inner_text()
    # Per criterion, typed: a wrong ranking blocks the submit with its reason; a right one is sent.
    criterion_box = page.get_by_label("helpfulness")
    criterion_box.fill("1 > 4")
    page.get_by_role("button", name="Submit").click()
    assert '"4" is not a response number from 1 to 3' in page.get_by_test_id("task-error").inner_text()
    criterion_box.fill("1 > 2 = 3")
    assert page.get_by_test_id("task-error").count() == 0
    screenshot(page, "05-ranking")
    page.get_by_role("button", name="Submit").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Nothing left for you here").wait_for()

    # A demonstration written in the editor, previewed, submitted with Ctrl+Enter.
    page.goto(f"/projects/{demos.pk}/annotate")
    _shown_task(page)
    page.get_by_label("Your ideal answer (markdown)").fill("Plants make **food** from light.\n\n- sun\n- water")
    assert page.get_by_label("Preview").locator("strong").inner_text() == "food"
    screenshot(page, "06-demonstration")
    page.get_by_label("Your ideal answer (markdown)").press("Control+Enter")
    page.get_by_role("heading", name="Nothing left for you here").wait_for()
    watch.assert_clean()

    # Then: every verdict is in the database with the order shown and the time on task.
    originals = {
        j.assignment_id: j
        for j in Judgement.objects.filter(project=pairwise, annotator=annotator, replaces__isnull=True)
    }
    assert set(originals) == {first, second, third}
    for assignment_id, judgement in originals.items():
        assert len(judgement.assignment.display_order) == 2
        assert judgement.time_spent_ms and 0 < judgement.time_spent_ms < 120_000
    shown1 = Assignment.objects.get(pk=first).display_order
    shown2 = Assignment.objects.get(pk=second).display_order
    assert originals[first].ranking == [[shown1[0]], [shown1[1]]] and originals[first].strength == 3
    assert originals[first].picked_first_shown is True
    assert originals[second].ranking == [[shown2[1]], [shown2[0]]] and originals[second].strength == 1
    assert originals[second].picked_first_shown is False
    assert originals[third].pair_outcome == Judgement.PairOutcome.TIE and originals[third].strength is None
    replacement = Judgement.objects.get(replaces=originals[third])
    assert replacement.both_bad is True and replacement.client_id != originals[third].client_id
    skipped = Assignment.objects.get(pk=fourth)
    assert skipped.state == Assignment.State.SKIPPED and skipped.skip_reason == "I lack the expertise"

    ranked = Judgement.objects.get(assignment_id=ranking_assignment)
    shown = ranked.assignment.display_order
    assert [set(tier) for tier in ranked.ranking] == [{shown[2], shown[1]}, {shown[0]}]
    assert ranked.criteria == {"helpfulness": [[shown[0]], [shown[1], shown[2]]]}
    assert ranked.time_spent_ms > 0

    demo = Judgement.objects.get(project=demos, annotator=annotator)
    assert demo.demonstration.text.startswith("Plants make **food**")
    assert demo.demonstration.source == "human"
