import factory

from customer360.models import DataSource


class DataSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataSource

    name = factory.Sequence(lambda n: f"Source {n}")
    slug = factory.Sequence(lambda n: f"source-{n}")
    kind = DataSource.Kind.CSV
    department = "sales"
    target = "customers"
