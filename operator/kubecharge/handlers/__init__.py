"""kopf handlers: parse the resource, call the pipeline, return status. Nothing else lives here."""
