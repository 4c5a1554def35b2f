from django.apps import AppConfig


class SynthadminConfig(AppConfig):
    name = "synthadmin"
    verbose_name = "Synthetic data"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import pre_migrate

        import synthadmin.checks  # noqa: F401  (registers the target checks)
        from synthadmin.signals import create_django_schema

        pre_migrate.connect(create_django_schema, dispatch_uid="synthadmin.create_django_schema")
