"""The annotate loop's PostgreSQL functions (`annotate_loop.sql`), installed by migrations.

Nothing on other databases: there the Python services serve every request. The file is
`CREATE OR REPLACE` throughout, so a migration that changes it simply installs it again.
"""
from pathlib import Path

SQL_FILE = Path(__file__).resolve().parent / "annotate_loop.sql"


def install_annotate_loop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL_FILE.read_text(), params=None)


def uninstall_annotate_loop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS prefloop_next(text, bigint, double precision); "
            "DROP FUNCTION IF EXISTS prefloop_submit(text, bigint, text, jsonb, bigint[], boolean, bigint, smallint, "
            "boolean, smallint, text, boolean, jsonb, integer); "
            "DROP FUNCTION IF EXISTS prefloop_token_user(text)",
            params=None,
        )
