from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Change events (the outbox in each company's schema)"
