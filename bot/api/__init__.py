"""The ops server (Sanic): health, the REST API, later the agent console and dashboard."""
