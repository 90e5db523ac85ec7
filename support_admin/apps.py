from django.apps import AppConfig


class SupportAdminConfig(AppConfig):
    name = "support_admin"
    verbose_name = "Support"
