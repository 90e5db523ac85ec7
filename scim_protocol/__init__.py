"""SCIM 2.0 itself (RFC 7643/7644): schema, filter grammar, PATCH engine, input
normalisation, rendering, errors, redaction. Plain Python: no Django ORM, no DRF, none of our
apps (import-linter contract protocol-pure)."""
