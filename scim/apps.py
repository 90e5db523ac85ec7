from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "scim"
    verbose_name = "SCIM 2.0"

    def ready(self) -> None:
        from scim.authentication import route_read
        from tenants.middleware import register_route_read

        # The credential is read by the route's own statement (scim/authentication.py).
        register_route_read("/scim/v2/", route_read)
