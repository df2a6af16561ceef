"""The operations console: server-rendered pages (Jinja2 + htmx), charts by Plotly."""
