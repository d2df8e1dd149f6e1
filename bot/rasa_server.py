"""The Rasa server, started as `python -m bot.rasa_server run …` (what `rasa run …` does, plus one fix).

Rasa 3.6 checks every answer of the action server with ``jsonschema.validate``, which first
validates Rasa's own response schema against the JSON Schema metaschema, then builds a validator,
and only then looks at the answer: 52 ms of the event loop per custom action call, against 0.8 ms
with a validator built once. Under load that was three quarters of the Rasa server's event loop
(py-spy, 60 customers on the REST channel), on every channel alike: the loop that also runs the
model. ``install`` gives ``RemoteAction`` a validator built once for the same schema; the answers
accepted and the errors raised (message included) are the same.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Any

#: What Rasa appends to a validation error's message (rasa/core/actions/action.py, 3.6).
_HINT = (
    ". Failed to validate Action server response from API, make sure your response from the Action "
    "endpoint is valid. For more information about the format visit {docs}/custom-actions"
)


@cache
def _validator() -> Any:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)  # once, as jsonschema.validate did on every call
    return cls(schema)


def validate_action_result(_action: Any, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with the validator built once."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_validator().iter_errors(result))  # what jsonschema.validate raises
    if error is None:
        return True
    error.message += _HINT.format(docs=DOCS_BASE_URL)
    raise error


def install() -> None:
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = validate_action_result


def main(argv: list[str] | None = None) -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
