"""API tokens moved to django-rest-knox (hashed, expiring). The old table held tokens in clear
text: it is dropped, not left behind. Apps get a 401 and sign in again, as after any expiry."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("api", "0001_initial")]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", reverse_sql=migrations.RunSQL.noop)
    ]
