"""Custom Rasa actions: thin glue over the plain services in ``bot``."""
