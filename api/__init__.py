"""The FastAPI application, its routes, the CLI and the composition root."""
