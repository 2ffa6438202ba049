"""Forms of the analytics pages (the dashboards' filter bar lives with the filters)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class TopicLabelForm(forms.Form):
    """A manager's name for a topic; empty returns it to the phrase the listening run found."""

    label = forms.CharField(
        label=_("Name of the topic"),
        max_length=200,
        required=False,
        help_text=_("Leave empty to use the phrase the messages share most."),
    )
