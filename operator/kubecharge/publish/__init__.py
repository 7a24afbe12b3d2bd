"""Publish: put rendered files where people read them, all or nothing."""
