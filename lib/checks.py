"""Checks of user-facing parameters: a bad value raises a ValueError that names the parameter and
what is valid (every module checks its inputs with these, so the messages read alike)."""
from __future__ import annotations


def check_choice(param: str, value, choices) -> None:
    """Raise a ValueError naming ``param`` and the valid choices if ``value`` is not one."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"unknown {param} {value!r}; valid choices: {', '.join(map(repr, choices))}")


def check_int(name: str, value, minimum: int = 0, optional: bool = False) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is an integer >= ``minimum`` (or, with
    ``optional``, None)."""
    if optional and value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}{' or None' if optional else ''}; got {value!r}")
