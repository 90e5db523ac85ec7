from django.apps import AppConfig


class FeedConfig(AppConfig):
    name = "events.feed"
    label = "events_feed"
    verbose_name = "Change events across companies (public): streams, feed, vendor API keys"
