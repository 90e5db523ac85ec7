from django.apps import AppConfig


class ProvisioningUiConfig(AppConfig):
    name = "provisioning_ui"
    verbose_name = "Company portal"
