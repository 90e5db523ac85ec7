"""Support staff's Django admin for companies (an interface; no models)."""
