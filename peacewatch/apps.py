from django.apps import AppConfig


class PeacewatchConfig(AppConfig):
    name = "peacewatch"
    verbose_name = "PeaceWatch"
