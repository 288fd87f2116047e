"""Installs the annotate loop's PostgreSQL functions (`annotation/sql/annotate_loop.sql`).

Nothing on other databases: there the Python services serve every request.
"""
from pathlib import Path

from django.db import migrations

SQL_FILE = Path(__file__).resolve().parent.parent / "sql" / "annotate_loop.sql"


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL_FILE.read_text(), params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS prefloop_next(text, bigint, double precision); "
            "DROP FUNCTION IF EXISTS prefloop_submit(text, bigint, text, jsonb, bigint[], boolean, bigint, smallint, "
            "boolean, smallint, text, boolean, jsonb, integer); "
            "DROP FUNCTION IF EXISTS prefloop_token_user(text)",
            params=None,
        )


class Migration(migrations.Migration):
    # The functions read the token table (its SQL helper is checked against it when created).
    dependencies = [("annotation", "0002_task_queue_order_index"), ("authtoken", "0004_alter_tokenproxy_options")]
    operations = [migrations.RunPython(install, uninstall, elidable=False)]
