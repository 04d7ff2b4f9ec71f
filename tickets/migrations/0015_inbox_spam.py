"""The inbox's Spam view: a small partial index over the tickets marked as spam."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0014_channels"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("is_spam", True)), fields=["-updated_at", "-id"], name="ticket_spam"
            ),
        ),
    ]
