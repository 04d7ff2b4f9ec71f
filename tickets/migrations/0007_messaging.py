from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0006_routing"),
    ]

    operations = [
        migrations.AddField(
            model_name="channelidentity",
            name="opted_out_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the customer asked for no more text messages (SMS STOP); replies are blocked until START.",
                null=True,
                verbose_name="opted out",
            ),
        ),
    ]
