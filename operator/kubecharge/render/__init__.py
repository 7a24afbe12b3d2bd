"""Render: a priced Chargeback into the files people and scripts read (CSV, JSON, Markdown, HTML)."""
