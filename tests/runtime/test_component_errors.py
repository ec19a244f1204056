"""The runtime components' exceptions: catchable as the builtin, located by a structured path."""

import pickle

import pytest

from node_runtime.component_errors import (
    ComponentError,
    ComponentValueError,
    IdExhaustedError,
    NoAllowlistError,
    QueueEmptyError,
    QueueFullError,
)


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (ComponentValueError, ValueError),
        (IdExhaustedError, OverflowError),
        (QueueFullError, OverflowError),
        (QueueEmptyError, IndexError),
        (NoAllowlistError, RuntimeError),
    ],
)
def test_every_error_is_a_component_error_and_the_builtin_callers_catch(
    error: type[ComponentError], builtin: type[Exception]
) -> None:
    assert issubclass(error, ComponentError)
    assert issubclass(error, builtin)


def test_a_value_error_carries_its_reason_and_path_and_renders_the_path() -> None:
    error = ComponentValueError("expected a u32", ("entries", 3, "attempts"))

    assert error.reason == "expected a u32"
    assert error.path == ("entries", 3, "attempts")
    assert str(error) == "expected a u32 - at `$.entries[3].attempts`"


def test_a_value_error_survives_pickling_with_its_attributes() -> None:
    error = ComponentValueError("expected a u32", ("entries", 3))

    restored = pickle.loads(pickle.dumps(error))

    assert type(restored) is ComponentValueError
    assert (restored.reason, restored.path) == (error.reason, error.path)
