"""The Textual console: ``app`` (make_app, run_console), ``screens``, ``widgets``, ``dialogs``.

Only this package imports Textual; the domain (``attendant.core``), the
hardware layer and the database layer stay Textual-free
(``tests/test_import_rules.py``).
"""
