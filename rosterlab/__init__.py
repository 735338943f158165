"""rosterlab: understand and repair Clever school-roster sync data.

The package is organised in rooms with one job each (see ARCHITECTURE in the docs):
``spec`` (the format as data), ``bundle`` (read/write bundles), ``store`` (the DuckDB
history store), ``synth`` (synthetic districts), ``cli`` (the command line).
"""

__version__ = "0.1.0"
