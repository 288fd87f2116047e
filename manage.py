#!/usr/bin/env python
"""Django's command-line utility for Prefloop."""
import os
import sys


def main() -> None:
    # A developer's tool: dev settings unless told otherwise (docs/decisions/2026-12-02-settings-defaults.md).
    # Servers (config.wsgi, config.asgi, config.celery) default to production instead.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
