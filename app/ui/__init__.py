"""The desktop window (PySide6): :func:`app.gui.run_gui` starts it.

Import PySide6 before qasync (qasync picks the Qt binding that is already imported)."""
