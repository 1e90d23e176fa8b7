"""The API reference page: the OpenAPI schema rendered as plain HTML.

Readable without JavaScript, by screen readers and at any width; the interactive Swagger UI
stays available beside it (``docs/try/``) for trying requests.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")


def _type_of(schema: dict[str, Any]) -> str:
    """A short human name of a schema: a type, a referenced schema's name, or a list of them."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _type_of(schema["allOf"][0]) + (" or null" if schema.get("nullable") else "")
    if schema.get("type") == "array":
        return f"list of {_type_of(schema.get('items', {}))}"
    name = schema.get("type", "any")
    if schema.get("format"):
        name += f" ({schema['format']})"
    if schema.get("nullable"):
        name += " or null"
    return name


def _fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": _type_of(field),
            "required": name in required,
            "read_only": field.get("readOnly", False),
            "description": field.get("description", ""),
            "values": field.get("enum", []),
        }
        for name, field in schema.get("properties", {}).items()
    ]


@lru_cache(maxsize=1)
def api_reference() -> dict[str, Any]:
    """Operations and schemas of the API, from the same generator as ``schema/``."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = []
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            operations.append(
                {
                    "id": operation.get("operationId", f"{method}-{path}"),
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": [
                        {
                            "name": p["name"],
                            "where": p["in"],
                            "required": p.get("required", False),
                            "type": _type_of(p.get("schema", {})),
                            "description": p.get("description", ""),
                        }
                        for p in operation.get("parameters", [])
                    ],
                    "body": _type_of(body["schema"]) if body else "",
                    "responses": [
                        {
                            "status": status,
                            "description": response.get("description", ""),
                            "type": _type_of(
                                response.get("content", {})
                                .get("application/json", {})
                                .get("schema", {})
                            )
                            if response.get("content")
                            else "",
                        }
                        for status, response in operation.get("responses", {}).items()
                    ],
                }
            )
    schemas = [
        {
            "name": name,
            "description": definition.get("description", ""),
            "fields": _fields(definition),
            "values": definition.get("enum", []),
        }
        for name, definition in sorted(schema["components"]["schemas"].items())
    ]
    return {"info": schema["info"], "operations": operations, "schemas": schemas}


@require_GET
def reference_page(request: HttpRequest) -> HttpResponse:
    return render(request, "api/reference.html", api_reference())
