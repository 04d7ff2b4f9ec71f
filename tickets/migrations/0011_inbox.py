"""The inbox: agents' saved views, and the indexes behind each inbox sort (keyset pages at any depth)."""

import django.db.models.deletion
import django.db.models.functions.comparison
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0010_amazon'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='SavedView',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=80, verbose_name='name')),
                ('filters', models.JSONField(blank=True, default=dict, verbose_name='filters')),
                ('sort', models.CharField(blank=True, max_length=20, verbose_name='sort')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created')),
            ],
            options={
                'verbose_name': 'saved view',
                'verbose_name_plural': 'saved views',
                'ordering': ['name', 'pk'],
            },
        ),
        migrations.RemoveIndex(
            model_name='ticket',
            name='ticket_status_lastcust',
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.F('status'), models.OrderBy(models.F('last_customer_message_at'), descending=True, nulls_last=True), models.OrderBy(models.F('id'), descending=True), name='ticket_status_lastcust_nl'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(fields=['status', '-created_at', '-id'], name='ticket_status_created'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(fields=['status', '-priority', '-id'], name='ticket_status_priority'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(fields=['status', '-updated_at', '-id'], name='ticket_status_updated'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.F('status'), django.db.models.functions.comparison.Least('first_response_due_at', 'next_response_due_at', 'resolution_due_at'), models.F('id'), name='ticket_status_sla'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.OrderBy(models.F('updated_at'), descending=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('status__in', ('new', 'open', 'pending', 'on_hold'))), name='ticket_open_updated'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.OrderBy(models.F('last_customer_message_at'), descending=True, nulls_last=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('status__in', ('new', 'open', 'pending', 'on_hold'))), name='ticket_open_lastcust'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.OrderBy(models.F('created_at'), descending=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('status__in', ('new', 'open', 'pending', 'on_hold'))), name='ticket_open_created'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.OrderBy(models.F('priority'), descending=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('status__in', ('new', 'open', 'pending', 'on_hold'))), name='ticket_open_priority'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(django.db.models.functions.comparison.Least('first_response_due_at', 'next_response_due_at', 'resolution_due_at'), models.F('id'), condition=models.Q(('status__in', ('new', 'open', 'pending', 'on_hold'))), name='ticket_open_sla'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.F('assignee'), models.OrderBy(models.F('updated_at'), descending=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('status__in', ('new', 'open', 'pending', 'on_hold'))), name='ticket_open_asg_updated'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.F('assignee'), models.OrderBy(models.F('last_customer_message_at'), descending=True, nulls_last=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('status__in', ('new', 'open', 'pending', 'on_hold'))), name='ticket_open_asg_lastcust'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.F('assignee'), models.OrderBy(models.F('created_at'), descending=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('status__in', ('new', 'open', 'pending', 'on_hold'))), name='ticket_open_asg_created'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.F('assignee'), models.OrderBy(models.F('priority'), descending=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('status__in', ('new', 'open', 'pending', 'on_hold'))), name='ticket_open_asg_priority'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.F('assignee'), django.db.models.functions.comparison.Least('first_response_due_at', 'next_response_due_at', 'resolution_due_at'), models.F('id'), condition=models.Q(('status__in', ('new', 'open', 'pending', 'on_hold'))), name='ticket_open_asg_sla'),
        ),
        migrations.AddField(
            model_name='savedview',
            name='owner',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='saved_views', to=settings.AUTH_USER_MODEL, verbose_name='owner'),
        ),
        migrations.AddConstraint(
            model_name='savedview',
            constraint=models.UniqueConstraint(fields=('owner', 'name'), name='saved_view_owner_name'),
        ),
    ]
