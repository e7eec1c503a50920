"""A form's problems, per field, in words: the page checks forms with the API's own schemas."""

from __future__ import annotations

from pydantic import ValidationError as SchemaError
from pydantic_core import ErrorDetails

PLAIN = {
    "int_parsing": "Enter a whole number.",
    "missing": "Fill this in.",
    "string_too_short": "Fill this in.",
    "bool_parsing": "Choose yes or no.",
}


def _words(item: ErrorDetails) -> str:
    shortest = (item.get("ctx") or {}).get("min_length", 1)
    if item["type"] == "string_too_short" and shortest > 1:
        return f"Use at least {shortest} characters."
    if item["type"] in PLAIN:
        return PLAIN[item["type"]]
    message = str(item["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = message.replace("Input should be", "Use a value").replace("String should", "It should")
    return message + ("" if message.endswith(".") else ".")


def problems(error: SchemaError) -> dict[str, str]:
    """{field name: what is wrong with it}; a problem of the whole form is under "form"."""
    found: dict[str, str] = {}
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "form"
        found.setdefault(name, _words(item))
    return found
