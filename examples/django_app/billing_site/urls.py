"""The project's URLs: the dunning endpoints under ``/dunning/``."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("dunning/", include("dunning_hooks.urls"))]
