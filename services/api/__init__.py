"""HTTP and WebSocket routers, one module per resource, mounted by :mod:`services.app`."""
