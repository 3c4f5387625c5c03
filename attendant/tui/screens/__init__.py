"""Screens of the console (the main screen owns the layout and the workers)."""
