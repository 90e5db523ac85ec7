from rest_framework.renderers import JSONRenderer


class ScimLabelledJSONRenderer(JSONRenderer):
    """DRF's JSON renderer, answering the benchmark's `Accept: application/scim+json`."""

    media_type = "application/scim+json"
