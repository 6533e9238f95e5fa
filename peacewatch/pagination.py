"""Cursor pages that refuse what they cannot use, as the OpenAPI document says they do.

DRF's cursor pagination quietly falls back to the default page size for a
``page_size`` that is not a positive integer; here it is a 400 naming
``page_size``, and the document gives its bounds. A cursor this API did not
return stays DRF's 404 (``Invalid cursor``), a problem like every error.
"""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination


class Pages(CursorPagination):
    page_size_query_param = "page_size"

    def get_page_size(self, request):
        given = request.query_params.get(self.page_size_query_param)
        if given is None:
            return self.page_size
        try:
            size = int(given)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size or str(size) != given.strip():
            raise ValidationError({self.page_size_query_param: [f"a whole number from 1 to {self.max_page_size}"]})
        return size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters
