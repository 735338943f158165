"""Renderers: frozen results in, text / JSON-ready dicts / HTML out. Nothing here prints."""
