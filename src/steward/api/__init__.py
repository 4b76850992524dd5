"""The REST API at /api/v1: one NinjaAPI assembled from each domain app's router."""
