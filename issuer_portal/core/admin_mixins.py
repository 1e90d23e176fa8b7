"""Admin building blocks every app's admin shares: read-only records, the card-data search guard,
spreadsheet-safe CSV cells. Channel helpers with no models of their own."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

# Nine or more digits in a row, once every separator is removed (spaces, dashes, dots,
# underscores, anything not a letter or digit), can only be part of a card or identity number;
# last4 and usernames are shorter.
_SENSITIVE_DIGITS = re.compile(r"\d{9,}")


_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula (OWASP CSV injection)."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def looks_like_card_data(query: str) -> bool:
    # Attempt and correlation ids are UUIDs: their hex may hold long digit runs, and they are fine.
    return bool(_SENSITIVE_DIGITS.search(re.sub(r"[\W_]", "", _UUID.sub("", query))))


class ReadOnlyAdminMixin:
    """Records staff may read but never add, change or delete here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class CardDataSearchGuardMixin:
    """Refuses searches containing a full card or identity number.

    Admin echoes the query into the search box and into every link of the result page; a card
    number there would sit in HTML and in browser history. Staff search by last4 instead.
    """

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        query = request.GET.get(SEARCH_VAR, "")
        if query and looks_like_card_data(query):
            messages.warning(
                request,
                _(
                    "Search by the last four digits of the card or by username: full card "
                    "numbers and national identity numbers are never searched or shown."
                ),
            )
            return HttpResponseRedirect(request.path)
        return super().changelist_view(request, extra_context)


def html_table(headers: list[str], rows: list[tuple], *, empty: str = "—") -> str:
    """A plain, escaped admin table (``empty`` when there are no rows)."""
    from django.utils.html import format_html, format_html_join

    if not rows:
        return str(empty)
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)
