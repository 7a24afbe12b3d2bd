"""Publish (a stage): put rendered files where people read them, all or nothing — a folder, object storage, and
versioned finance exports with their manifests and drift."""
