"""Forms of the data-source screens: the source itself, the upload, the field mapping."""

from __future__ import annotations

import json

from django import forms
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customer360.models import DataSource
from customer360.sources.mapping import LOCALES, TYPES
from customer360.sources.reading import DELIMITERS
from customer360.sources.targets import import_targets

CONSTANT_SLOTS = 3


class DataSourceForm(forms.ModelForm):
    class Meta:
        model = DataSource
        fields = ["name", "slug", "kind", "department", "target", "locale", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].help_text = gettext_lazy(
            "Short name in URLs and identifiers; made from the name if empty."
        )
        self.fields["kind"].choices = [c for c in DataSource.Kind.choices if c[0] != DataSource.Kind.DEMO]
        self.fields["target"] = forms.ChoiceField(
            label=gettext_lazy("Target"), choices=import_targets.choices()
        )
        self.fields["locale"] = forms.ChoiceField(
            label=gettext_lazy("Number and date format"),
            choices=list(LOCALES.items()),
            required=False,
            help_text=gettext_lazy('How the files write numbers and dates, e.g. "1.234,50" in German.'),
        )

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug") or slugify(self.cleaned_data.get("name", ""))[:80]
        if not slug:
            raise forms.ValidationError(_("Give the source a name or a slug."))
        clash = DataSource.objects.filter(slug=slug).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("Another data source already uses this slug."))
        return slug


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV or Excel (.xlsx) file"))


def field_options(target, source: DataSource | None = None) -> list[tuple[str, str]]:
    """Choices for a column: ignore, a target field, the customer id of another source, or a
    free attribute/payload key."""
    others = DataSource.objects.exclude(kind=DataSource.Kind.DEMO).order_by("name")
    if source is not None:
        others = others.exclude(pk=source.pk)
    return [
        ("", _("— ignore —")),
        *((f.name, str(f.label)) for f in target.fields),
        *(
            (f"ids.{slug}", _("Customer id in %(source)s") % {"source": name})
            for slug, name in others.values_list("slug", "name")
        ),
        ("attributes", _("Customer attribute (name below)")),
        ("payload", _("Event payload (name below)")),
    ]


def mapping_from_post(post, header: list[str], target) -> tuple[dict, list[str]]:
    """Read the mapping screen back into a mapping dict; return it and any problems."""
    problems: list[str] = []
    options = {
        "delimiter": post.get("delimiter", "") if post.get("delimiter", "") in DELIMITERS else "",
        "encoding": post.get("encoding", "")
        if post.get("encoding", "") in ("", "utf-8", "utf-8-sig", "cp1252")
        else "",
    }
    if post.get("use_advanced") and post.get("advanced", "").strip():
        try:
            advanced = json.loads(post["advanced"])
            fields = advanced["fields"] if isinstance(advanced, dict) else advanced
            if not isinstance(fields, list) or not all(isinstance(e, dict) for e in fields):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            problems.append(_('The advanced mapping is not valid JSON of the form {"fields": [...]}.'))
            fields = []
        return {"fields": fields, "options": options}, problems
    allowed = {f.name for f in target.fields}
    fields = []
    for index, column in enumerate(header):
        name = post.get(f"field_{index}", "")
        custom = post.get(f"custom_{index}", "").strip()
        if name in ("attributes", "payload") and custom:
            name = f"{name}.{custom}"
        elif name in ("attributes", "payload"):
            name = f"{name}.{column}"
        if not name:
            continue
        if name not in allowed and not name.startswith(("attributes.", "payload.", "ids.")):
            problems.append(_("Unknown field %(field)s.") % {"field": name})
            continue
        entry = {"field": name, "column": column}
        type_name = post.get(f"type_{index}", "")
        if type_name in TYPES:
            entry["type"] = type_name
        if post.get(f"default_{index}", "").strip():
            entry["default"] = post[f"default_{index}"].strip()
        if post.get(f"required_{index}"):
            entry["required"] = True
        fields.append(entry)
    key = [column for index, column in enumerate(header) if post.get(f"key_{index}")]
    if key and target.keyed_rows and not any(e["field"] == target.api_id_field for e in fields):
        fields.append({"field": target.api_id_field, "columns": key, "combine": "key"})
    for slot in range(CONSTANT_SLOTS):
        name = post.get(f"const_field_{slot}", "").strip()
        value = post.get(f"const_value_{slot}", "").strip()
        if name and value:
            fields.append({"field": name, "constant": value})
    return {"fields": fields, "options": options}, problems


def key_columns(mapping: dict) -> list[str]:
    """The columns that identify a row (the entry combining them into a key), if any."""
    entry = next((e for e in mapping.get("fields", []) if e.get("combine") == "key"), {})
    return list(entry.get("columns", []))


def column_rows(header: list[str], mapping: dict, sample: dict[str, str]) -> list[dict]:
    """One row per column for the mapping screen, prefilled from the saved mapping."""
    by_column = {e.get("column"): e for e in mapping.get("fields", []) if e.get("column")}
    key = key_columns(mapping)
    rows = []
    for index, column in enumerate(header):
        entry = by_column.get(column, {})
        name = entry.get("field", "")
        custom = ""
        if name.startswith(("attributes.", "payload.")):
            name, custom = name.split(".", 1)
        rows.append(
            {
                "index": index,
                "column": column,
                "sample": sample.get(column, ""),
                "field": name,
                "custom": custom,
                "type": entry.get("type", ""),
                "default": entry.get("default", ""),
                "required": entry.get("required", False),
                "key": column in key,
            }
        )
    return rows


class SourceIdentityForm(forms.Form):
    """How this source's keys relate to other sources' (on the source's page)."""

    shares_ids_with = forms.ModelChoiceField(
        queryset=DataSource.objects.none(),
        required=False,
        label=gettext_lazy("This source's customer ids are the customer ids of"),
        empty_label=gettext_lazy("— no other source (its own ids) —"),
    )

    def __init__(self, *args, source: DataSource, id_columns: list[tuple[str, str]], **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "shares_ids_with": source.shares_ids_with_id,
                **{f"column_{i}": column for i, (column, _slug) in enumerate(id_columns)},
                **{f"source_{i}": slug for i, (_column, slug) in enumerate(id_columns)},
            },
        )
        super().__init__(*args, **kwargs)
        others = DataSource.objects.exclude(pk=source.pk).exclude(kind=DataSource.Kind.DEMO).order_by("name")
        self.fields["shares_ids_with"].queryset = others
        choices = [("", "—"), *others.values_list("slug", "name")]
        self.slots = []
        for index in range(len(id_columns) + 1):
            self.fields[f"column_{index}"] = forms.CharField(
                required=False, max_length=200, label=gettext_lazy("Column")
            )
            self.fields[f"source_{index}"] = forms.ChoiceField(
                required=False, choices=choices, label=gettext_lazy("holds the customer id of")
            )
            self.slots.append((self[f"column_{index}"], self[f"source_{index}"]))

    def id_columns(self) -> list[tuple[str, str]]:
        data = self.cleaned_data
        pairs = (
            (data.get(f"column_{i}", "").strip(), data.get(f"source_{i}", "")) for i in range(len(self.slots))
        )
        return [(column, slug) for column, slug in pairs if column and slug]
