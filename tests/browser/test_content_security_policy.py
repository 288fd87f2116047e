"""Under its Content-Security-Policy the UI and the API's Swagger UI work in Chromium with not one
violation, and the policy really is enforced: an inline handler injected into the page does not run."""
import pytest

from tests.annotation.factories import make_project, make_task, make_user
from tests.browser.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-123456"
# Runs before the page's own scripts (Playwright injects it outside the page's policy).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations")


def test_the_ui_runs_under_its_policy_without_a_violation(page_factory):
    manager = make_user("csp-manager", staff=True, password=PASSWORD)
    project = make_project(manager=manager, name="Policy check")
    make_task(project, prompt_text="Which answer is kinder?")
    page, watch = page_factory()
    page.add_init_script(RECORD_VIOLATIONS)

    response = page.goto("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    login(page, "csp-manager", PASSWORD)
    assert page.evaluate("Object.keys(localStorage).filter((k) => k.includes('token'))") == []
    for path, ready in [(f"/projects/{project.pk}/annotate", "form[data-assignment-id]"),
                        (f"/projects/{project.pk}/manage", "h1"), (f"/projects/{project.pk}/dashboard", "h1")]:
        page.goto(path)
        page.locator(ready).first.wait_for()
        page.wait_for_timeout(300)
        assert violations(page) == [], path
    watch.assert_clean()
    assert watch.outside_requests() == []

    # The policy is enforced, not only sent: injected markup's inline handler is blocked and reported.
    page.evaluate("""document.body.insertAdjacentHTML("beforeend", '<img src="data:," onerror="window.__ran = 1">'
                     + '<img src="/no-such-image" onerror="window.__ran = 2">')""")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__ran") is None
    assert any(v.startswith("script-src") for v in violations(page)), violations(page)


def test_swagger_ui_renders_the_api_from_local_files_under_its_policy(page_factory):
    page, watch = page_factory()
    page.add_init_script(RECORD_VIOLATIONS)
    response = page.goto("/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_text("/api/projects/{project_id}/next/").first.wait_for()
    page.wait_for_timeout(300)
    assert violations(page) == []
    watch.assert_clean()
    assert watch.outside_requests() == []
