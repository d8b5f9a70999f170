"""Request-model building blocks: every text field NUL-free, months and money ASCII only.

:class:`InputModel` is the base of every JSON request model: unknown fields are refused
and any string anywhere in it (nested models, lists, dicts) holding a NUL character is a
422 naming the field (PostgreSQL cannot store NUL in text; SQLite would, so both refuse).
:data:`Month` and :data:`MoneyText` validate with the one parser of each
(:func:`services.parsing.parse_month`, :func:`services.billing.money.parse_money`) and keep
the text, which the services parse again with the same function.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.billing.money import parse_money
from services.errors import InvalidInput
from services.parsing import DECIMAL_PATTERN, MONTH_PATTERN, check_text, parse_month

__all__ = ["InputModel", "MoneyText", "Month"]


def _with(parser: Callable[[Any], Any]) -> AfterValidator:
    """A pydantic validator that runs ``parser`` and keeps the value (422 on InvalidInput)."""

    def validate(value: Any) -> Any:
        try:
            parser(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
        return value

    return AfterValidator(validate)


Month = Annotated[str, Field(max_length=7, json_schema_extra={"pattern": f"^{MONTH_PATTERN}$"},
                             examples=["2026-03"]), _with(parse_month)]
MoneyText = Annotated[str, Field(max_length=20, description="yuan, decimal string (ASCII digits) with at most 2 "
                                 "decimals, at most 999999999999.99",
                                 json_schema_extra={"pattern": f"^{DECIMAL_PATTERN}$"}, examples=["12.50"]),
                      _with(parse_money)]


def _no_nul(value: Any, name: str) -> None:
    if isinstance(value, str):
        check_text(value, name)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            _no_nul(item, name)
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key, name)
            _no_nul(item, f"{name}.{key}")


class InputModel(BaseModel):
    """Base of request bodies: extra fields forbidden, no NUL in any text."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _text_without_nul(cls, value: Any, info: ValidationInfo) -> Any:
        try:
            _no_nul(value, info.field_name or "value")
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
        return value
