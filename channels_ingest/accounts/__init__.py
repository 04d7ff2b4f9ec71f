"""The "Channels" page: connected accounts per store, their health, and what an admin does to
them (connect, test, pause, resume, remove). See actions.py for what each action means."""
