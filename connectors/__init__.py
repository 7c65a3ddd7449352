"""Gateway service: channels (web widget, LINE), the router to the engine, and later the staff console."""
