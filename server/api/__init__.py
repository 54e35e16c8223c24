"""JSON API resources, one module each."""
