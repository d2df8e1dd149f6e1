"""`make run`'s process table: the command lines honcho starts."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from bot.config import Settings
from bot.run import processes


@pytest.mark.parametrize("token", ["-5kQ2_pZx9", "plain_Token-42", "--looks-like-an-option"])
def test_the_rasa_server_gets_its_auth_token_whatever_the_token_starts_with(
    tmp_path: Path, token: str
) -> None:
    """A generated token starts with "-" one time in 64; Rasa must still read it as the token."""
    from rasa.__main__ import create_argument_parser

    settings = Settings.from_env({"CARELOOP_VAR_DIR": str(tmp_path), "RASA_TOKEN": token})
    argv = shlex.split(processes(settings)["rasa"])
    args = create_argument_parser().parse_args(argv[1:])
    assert args.auth_token == token
    assert args.enable_api and args.port == settings.rasa_port
