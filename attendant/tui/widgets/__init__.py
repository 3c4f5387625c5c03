"""Widgets of the console: the Line-API level map, availability table, lane
panels, entry and exit forms, the top bar and small keyboard pickers."""
