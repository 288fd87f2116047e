"""Untrusted content is inert: imported responses with HTML, scripts and remote images run nothing
and load nothing from outside, in a real browser; the import screen reports bad lines."""
import json

import pytest

from annotation.models import ComparisonTask
from tests.annotation.factories import add_member, make_project, make_user
from tests.browser.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-123456"
HOSTILE = (
    "Try this: <img src=x onerror=alert(1)> and <script>window.__xss = 1; alert(2)</script>\n\n"
    "![tracking pixel](http://tracker.invalid/pixel.png)\n\n"
    '<img src="http://tracker.invalid/raw.png"> <iframe src="http://tracker.invalid/frame"></iframe>\n\n'
    "[a link](http://example.invalid/page) and [bad](javascript:alert(3))\n\n"
    "```html\n<script>alert(4)</script>\n```"
)


def test_hostile_response_is_shown_inert(page_factory, screenshot):
    # Given: a manager imports a JSONL file with one hostile task and one broken line.
    manager = make_user("manager1", staff=True, password=PASSWORD)
    annotator = make_user("bob", password=PASSWORD)
    project = make_project(manager=manager, name="Hostile content", lease_seconds=10,
                           guidelines="Guidelines <script>window.__xss = 5</script> ![x](http://tracker.invalid/g.png)")
    add_member(project, annotator)
    lines = [
        json.dumps({"prompt": "Say something <b>bold</b>", "responses": [HOSTILE, "A **plain** answer."]}),
        "{not json",
    ]
    page, watch = page_factory()
    login(page, "manager1", PASSWORD)
    page.goto(f"/projects/{project.pk}/manage")
    page.get_by_label("JSONL file").set_input_files(
        files=[{"name": "tasks.jsonl", "mimeType": "application/x-ndjson", "buffer": "\n".join(lines).encode()}]
    )
    page.get_by_role("button", name="Import", exact=True).click()
    report = page.get_by_test_id("import-report")
    report.wait_for()
    assert "Created 1" in report.inner_text()
    assert report.locator("tbody tr").count() == 1
    assert report.locator("tbody tr td").first.inner_text() == "2"
    assert ComparisonTask.objects.filter(project=project).count() == 1
    watch.assert_clean()

    # When: the annotator opens the task.
    page, watch = page_factory()
    login(page, "bob", PASSWORD)
    page.goto(f"/projects/{project.pk}/annotate")
    page.locator("form[data-assignment-id]").wait_for()
    page.wait_for_timeout(500)  # give any injected handler time to fire

    # Then: the markup shows as text, nothing ran, nothing outside was asked for.
    body = page.locator(".responses").inner_text()
    assert "<img src=x onerror=alert(1)>" in body
    assert "<script>window.__xss = 1; alert(2)</script>" in body
    assert page.evaluate("window.__xss") is None
    assert watch.dialogs == []
    assert watch.outside_requests() == []
    assert not [url for url in watch.requests if url.rstrip("/").endswith("/x")]
    assert page.locator(".markdown img, .markdown script, .markdown iframe").count() == 0
    assert page.locator(".blocked-image").count() >= 1
    link = page.locator(".markdown a", has_text="a link")
    assert link.get_attribute("target") == "_blank"
    assert "noopener" in link.get_attribute("rel")
    assert page.locator('.markdown a[href^="javascript"]').count() == 0
    screenshot(page, "09-hostile-content-inert")

    # The short lease (10 s) warns before it runs out, then offers a new task.
    warning = page.get_by_test_id("lease-warning")
    warning.wait_for(timeout=8_000)
    assert "runs out in" in warning.inner_text()
    page.get_by_role("button", name="Get a new task").wait_for(timeout=8_000)
    watch.assert_clean()
