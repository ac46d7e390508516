"""A Django project protected by authhooks (see ``settings.py``)."""
