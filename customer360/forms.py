import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from customer360.text import whole_number


# --- Date pickers ----------------------------------------------------------------------------------
class DateInput(forms.DateInput):
    """The browser's date picker. It reads and sends ISO dates (2027-01-13) in every language, so
    the value is rendered as ISO: in the German input format (13.01.2027) the picker would show an
    existing date as empty. The field still parses what a browser without a picker lets people type
    in their language's input formats (13.01.2027 in German)."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    """The browser's date-and-time picker (ISO "2027-01-13T14:05" both ways; see ``DateInput``)."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


# --- A service's refusal on a page (the API's twin is customer360.api.errors) --------------------
def add_refusal(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError onto ``form``: errors of a field the form has under that field,
    the rest above the form. The page then answers 400 with the form shown again."""
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, exc.messages)


def refusal_text(exc: ValidationError) -> str:
    """A service's ValidationError as one line for a message on a page without a form."""
    return " ".join(str(message) for message in exc.messages)


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)
    # A fresh token per rendered form: a double submit of the same form records one note.
    token = forms.CharField(widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex, max_length=64)


class CustomerRefField(forms.CharField):
    """A customer picked by number (C-000123) or id among those the form's user may see. A customer
    out of scope is refused with the very message of a number that does not exist."""

    user = None  # set by ``ScopedForm`` for each form; without a user nothing is found

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Customer (number or id)"))
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("help_text", _("e.g. C-000123"))
        super().__init__(**kwargs)

    def clean(self, value):
        from customer360.models import Customer

        value = super().clean(value).strip()
        customers = Customer.objects.visible_to(self.user)
        customer = customers.filter(customer_number__iexact=value).first() if value else None
        if customer is None and (pk := whole_number(value)) is not None:
            customer = customers.filter(pk=pk).first()
        if customer is None:
            raise forms.ValidationError(_("No customer with number %(value)s."), params={"value": value})
        return customer


class ScopedForm(forms.Form):
    """A form whose customer fields look only among the customers ``user`` may see."""

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        for field in self.fields.values():
            if isinstance(field, CustomerRefField):
                field.user = user


class AssignmentForm(forms.Form):
    """A lead's or an admin's decision: a department or a person works with this customer."""

    department = forms.ChoiceField(label=_("Department"), required=False)
    user = forms.ModelChoiceField(label=_("Person"), required=False, queryset=None)
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def __init__(self, *args, **kwargs):
        from django.contrib.auth import get_user_model

        from customer360.models import Department
        from customer360.services import ASSIGNABLE_DEPARTMENTS

        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", "—")] + [
            (value, label) for value, label in Department.choices if value in ASSIGNABLE_DEPARTMENTS
        ]
        users = (
            get_user_model().objects.filter(is_active=True).order_by("last_name", "first_name", "username")
        )
        self.fields["user"].queryset = users
        self.fields["user"].label_from_instance = lambda u: u.get_full_name() or u.get_username()

    def clean(self):
        data = super().clean()
        if bool(data.get("department")) == bool(data.get("user")):
            raise forms.ValidationError(_("Choose a department or a person, not both."))
        return data
