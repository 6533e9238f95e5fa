"""DRF fields that take JSON's types as the OpenAPI document states them, and nothing they could be coerced from.

DRF's own CharField turns 0 into "0" and its BooleanField takes 1, "yes" or
"on": a body the document calls invalid would then be accepted.
"""

from __future__ import annotations

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    default_error_messages = {"not_a_string": "must be a string"}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)
