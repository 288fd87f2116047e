"""The annotate loop's PostgreSQL functions installed again: `prefloop_submit` defers a paused
annotator's submit (the services answer 403 `paused`), leases taken before the pause included.
The signatures are unchanged; the file is `CREATE OR REPLACE` throughout."""
from django.db import migrations

from annotation.hot_path.sql import install_annotate_loop


class Migration(migrations.Migration):
    dependencies = [("annotation", "0006_leaner_judgement_writes")]
    operations = [migrations.RunPython(install_annotate_loop, migrations.RunPython.noop, elidable=False)]
