"""The console's analysis objects: saved insights, dashboards, people and event exploration.

Service functions only (keyword arguments, no HTTP): the web shell parses a form, calls one
function here and renders what it returns.
"""
