# The worker's whole-file check of an import run (issue #15, build 2).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customer360', '0028_customer_number_by_length'),
    ]

    operations = [
        migrations.AddField(
            model_name='importrun',
            name='check_job',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='customer360.job'),
        ),
    ]
