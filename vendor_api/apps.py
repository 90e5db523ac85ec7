from django.apps import AppConfig


class VendorApiConfig(AppConfig):
    name = "vendor_api"
    verbose_name = "Vendor API (events and directories for the vendor's backend)"

    def ready(self) -> None:
        # Registers the vendor key's security scheme with drf-spectacular.
        from vendor_api import schema  # noqa: F401
