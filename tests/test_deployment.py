"""The deployment artefacts: production settings and the docker-compose stack."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # A deployment has neither a secret from the test run nor the test-only async escape hatch
    # (the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for their live server).
    environment = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("key", ["", "dev-only-insecure-key-never-used-in-production", "short"])
def test_production_settings_refuse_a_default_or_weak_secret_key(key):
    result = run_manage(
        "check", DJANGO_SETTINGS_MODULE="config.settings.production", SECRET_KEY=key
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def import_entry_point(module: str, **env: str) -> subprocess.CompletedProcess:
    """Imports a server entry point as a process manager would, with no settings module chosen."""
    environment = {
        k: v for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    environment.update(env)
    code = f"import {module}; from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=environment, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("module", ["config.wsgi", "config.asgi", "config.celery"])
def test_server_entry_points_default_to_production_settings(module):
    refused = import_entry_point(module)
    assert refused.returncode != 0 and "SECRET_KEY must be set" in refused.stderr
    if module == "config.celery":  # the Celery app reads settings lazily
        started = import_entry_point(f"{module}; {module}.app.conf.broker_url", SECRET_KEY=secrets.token_urlsafe(64))
    else:
        started = import_entry_point(module, SECRET_KEY=secrets.token_urlsafe(64))
    assert started.returncode == 0, started.stderr[-2000:]
    assert started.stdout.split() == ["config.settings.production", "False"]


def compose_config() -> dict:
    import yaml

    result = subprocess.run(
        ["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config"],
        cwd=REPO,
        env={**os.environ, "SECRET_KEY": "x" * 60},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_docker_compose_file_is_valid_and_complete():
    config = compose_config()
    services = config["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "gpu-worker", "beat", "flower"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
    assert "gunicorn" in " ".join(services["web"]["command"] if isinstance(services["web"]["command"], list) else [services["web"]["command"]])
    assert services["worker"]["command"][services["worker"]["command"].index("-Q") + 1] == "default"
    gpu = services["gpu-worker"]
    assert gpu["command"][gpu["command"].index("-Q") + 1] == "gpu"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    # several GPUs: training steps launch one process per GPU (workers/runner.py training_argv)
    assert devices[0]["count"] == "all"
    assert gpu["environment"]["TRAINING_NUM_PROCESSES"] == "0" and gpu["environment"]["ACCELERATE_CONFIG_FILE"] == ""
    assert gpu["environment"]["DATABASE_URL"] == services["worker"]["environment"]["DATABASE_URL"]
    assert gpu["shm_size"]
    assert {"pgdata", "artifacts"} <= set(config["volumes"])
    assert any("artifacts" in str(v) for v in services["web"]["volumes"])


def test_docker_compose_refuses_to_start_without_a_secret_key():
    environment = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    result = subprocess.run(
        ["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config"],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
