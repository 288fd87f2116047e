"""Installs the annotate loop's PostgreSQL functions (`annotation/hot_path/sql/annotate_loop.sql`)."""
from django.db import migrations

from annotation.hot_path.sql import install_annotate_loop, uninstall_annotate_loop


class Migration(migrations.Migration):
    # The functions read the token table.
    dependencies = [("annotation", "0002_task_queue_order_index"), ("authtoken", "0004_alter_tokenproxy_options")]
    operations = [migrations.RunPython(install_annotate_loop, uninstall_annotate_loop, elidable=False)]
