"""Forms of the feed (validation of input; the work is done by services)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from collab import departments
from collab.models import DepartmentRequest, ModerationAction, Space
from collab.services import department_members
from customer360.forms import DateInput

User = get_user_model()


class PostForm(forms.Form):
    space = forms.ModelChoiceField(label=_("Space"), queryset=Space.objects.none(), required=False)
    body = forms.CharField(
        label=_("Message"),
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "placeholder": _("Markdown; @accounting or @name to mention, #customer to reference"),
            }
        ),
        max_length=10000,
    )
    topic = forms.CharField(label=_("Topic"), max_length=60, required=False)
    request_to = forms.ChoiceField(
        label=_("File as a request to"),
        choices=[("", _("— no request, just a post —")), *departments.CHOICES],
        required=False,
    )
    request_kind = forms.ChoiceField(
        label=_("Kind"), choices=DepartmentRequest.Kind.choices, initial=DepartmentRequest.Kind.QUESTION
    )
    priority = forms.ChoiceField(
        label=_("Priority"),
        choices=DepartmentRequest.Priority.choices,
        initial=DepartmentRequest.Priority.NORMAL,
    )
    due_date = forms.DateField(label=_("Due"), required=False, widget=DateInput())

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["space"].queryset = Space.objects.readable_by(user).order_by("kind", "name")

    def clean(self):
        data = super().clean()
        if not data.get("request_to") and not data.get("space"):
            self.add_error("space", _("Pick a space, or file the post as a request to a department."))
        return data


class EditForm(forms.Form):
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 6}), max_length=10000)


class CommentForm(forms.Form):
    body = forms.CharField(label=_("Answer"), widget=forms.Textarea(attrs={"rows": 3}), max_length=10000)


class SpaceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[(Space.Kind.TOPIC, _("Topic")), (Space.Kind.CROSS, _("Cross-department"))]
    )
    visibility = forms.ChoiceField(label=_("Visibility"), choices=Space.Visibility.choices)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    members = forms.ModelMultipleChoiceField(
        label=_("Members"), queryset=User.objects.filter(is_active=True).order_by("username"), required=False
    )


class ReportForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300)


class ModerateForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), choices=ModerationAction.Action.choices)
    reason = forms.CharField(label=_("Reason"), max_length=300)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(label=_("Assign to"), queryset=User.objects.none())

    def __init__(self, *args, department: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = department_members([department]).order_by("username")
