"""Job files, one module a job: specs, loader, axes, schema, checks, hints."""
