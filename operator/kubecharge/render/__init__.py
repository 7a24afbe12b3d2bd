"""Render (a stage): a priced Chargeback into the files people and scripts read — CSV and JSON (data_files.py),
Markdown and HTML (documents.py), FOCUS (focus.py), the ConfigMap's data (configmap.py), charts."""
