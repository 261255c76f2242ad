"""The README's webhook recipes: run by tests/test_webhook_recipes.py, never imported by collection.

They read ``BYS_WEBHOOK_SECRET`` at import, as a real app does; the recipe tests set it first and
load a fresh copy of each, so pytest's ``--doctest-modules`` must not import them on its own.
"""

collect_ignore = ["fastapi_app.py", "flask_app.py"]
