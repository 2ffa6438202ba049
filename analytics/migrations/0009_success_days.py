"""Each customer's success days with the one before (issue #18): the next-best-action lift of a past
period counts first successes instead of grouping the timeline's events. Filled by the roll-up
refresh (every refresh after this migration fills it for everyone: it has no watermark yet); until then a past
period counts from the timeline as before."""

import datetime
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0008_customer_revenue_neighbours'),
        ('customer360', '0036_search_key_without_apostrophes'),
    ]

    operations = [
        migrations.CreateModel(
            name='SuccessDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('previous_day', models.DateField(default=datetime.date(9999, 12, 31))),
                ('owner_id', models.BigIntegerField(default=0)),
                ('country', models.CharField(blank=True, default='', max_length=2)),
                ('segment', models.CharField(blank=True, default='', max_length=40)),
                ('customer', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='customer360.customer')),
            ],
            options={
                'verbose_name': 'success day',
                'verbose_name_plural': 'success days',
                'indexes': [models.Index(fields=['day'], name='analytics_success_day')],
                'constraints': [models.UniqueConstraint(fields=('customer', 'day'), name='analytics_success_customer_day')],
            },
        ),
    ]
