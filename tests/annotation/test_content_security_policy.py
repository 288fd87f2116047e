"""The pages Prefloop renders itself carry a strict Content-Security-Policy, and Swagger UI comes
from the pinned local copy (drf-spectacular-sidecar), not a CDN."""
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def assert_strict(header: str) -> None:
    policy = directives(header)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in value for values in policy.values() for value in values)


def test_the_single_page_app_is_served_with_a_strict_policy(settings, tmp_path):
    (tmp_path / "index.html").write_text('<!doctype html><script type="module" src="/static/assets/x.js"></script>')
    settings.FRONTEND_DIST = tmp_path
    answer = Client().get("/projects/1/annotate")
    assert answer.status_code == 200
    assert_strict(answer["Content-Security-Policy"])
    assert "csrftoken" in answer.cookies


def test_the_api_docs_load_only_local_assets_and_run_no_inline_script():
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert_strict(page["Content-Security-Policy"])
    html = page.content.decode()
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert not re.search(r"https?://", html)

    static_files = [url for url in urls if url.startswith("/static/")]
    assert any("swagger-ui-bundle.js" in url for url in static_files)
    for url in static_files:  # present among the site's static files, so collectstatic ships them
        assert finders.find(url.removeprefix("/static/")), url
    script = next(url for url in urls if url.startswith("/api/docs/"))
    start_up = client.get(script)
    assert start_up.status_code == 200 and start_up["Content-Type"].startswith("application/javascript")
    assert b"/api/schema/" in start_up.content
