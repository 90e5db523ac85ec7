from django.apps import AppConfig
from django.db.models.signals import post_delete


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Companies"

    def ready(self) -> None:
        from tenants.middleware import forget_schemas
        from tenants.models import Company

        # Routing remembers each slug's schema; a deleted company's schema may be dropped.
        post_delete.connect(
            lambda **kwargs: forget_schemas(), sender=Company, weak=False, dispatch_uid="routes"
        )
