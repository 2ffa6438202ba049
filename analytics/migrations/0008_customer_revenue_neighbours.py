"""Each revenue day knows the customer's revenue days around it and its band (issue #18): a custom
period's revenue concentration then groups only the customers with several revenue days in it.
Existing rows get the "not known" defaults (they are grouped, as before) until the roll-up rebuilds
their customer; the nightly full refresh rebuilds everyone. Adding the columns rewrites nothing on
PostgreSQL (constant defaults)."""

import datetime
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0007_period_revenue'),
    ]

    operations = [
        migrations.AddField(
            model_name='customerrevenue',
            name='band',
            field=models.SmallIntegerField(null=True),
        ),
        migrations.AddField(
            model_name='customerrevenue',
            name='next_day',
            field=models.DateField(default=datetime.date(1, 1, 1)),
        ),
        migrations.AddField(
            model_name='customerrevenue',
            name='previous_day',
            field=models.DateField(default=datetime.date(9999, 12, 31)),
        ),
    ]
