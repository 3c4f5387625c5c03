"""The HTTP API (``attendant serve``): :func:`attendant.api.app.create_app` builds it over the booth services."""
