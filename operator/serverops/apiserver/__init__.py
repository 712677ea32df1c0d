"""A local, in-memory Kubernetes API server for tests and local development."""
