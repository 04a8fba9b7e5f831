"""Domain errors. The API layer maps each class to one gRPC status code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field: its path as the caller spells it, and the rule."""

    field: str
    description: str


class WorkpoolError(Exception):
    """Root of every error the engine raises on purpose."""


class InvalidArgumentError(WorkpoolError):
    def __init__(self, violations: list[FieldViolation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))


class LimitExceededError(WorkpoolError):
    """A request is over a configured size limit."""

    def __init__(self, field: str, description: str) -> None:
        self.violations = [FieldViolation(field, description)]
        super().__init__(f"{field}: {description}")


class NotFoundError(WorkpoolError):
    pass


class AlreadyExistsError(WorkpoolError):
    pass


class FailedPreconditionError(WorkpoolError):
    pass


class OutOfRangeError(WorkpoolError):
    pass


class UnavailableError(WorkpoolError):
    pass


def invalid(field: str, description: str) -> InvalidArgumentError:
    return InvalidArgumentError([FieldViolation(field, description)])
