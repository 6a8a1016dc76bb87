"""Typing names that the generated models import, for every Python the package supports.

`models.py` is generated with `--import-overrides` pointing `NotRequired` and `TypeAlias` here, because
`typing` has them only from Python 3.11 and 3.10, and the package must not depend on `typing_extensions`.
The models use `from __future__ import annotations`, so these names are never evaluated at import time; they
matter to type checkers (which always know `typing_extensions`) and to `typing.get_type_hints`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

__all__ = ["NotRequired", "TypeAlias"]

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypeAlias
elif TYPE_CHECKING:
    from typing_extensions import NotRequired, TypeAlias
else:  # pragma: no cover - exercised on Python 3.9 and 3.10 only
    try:
        from typing_extensions import NotRequired, TypeAlias
    except ImportError:

        class _Transparent:
            """`X[T]` is `T`: `get_type_hints` still resolves, without the optional-key marker."""

            def __init__(self, name: str) -> None:
                self._name = name

            def __getitem__(self, item: Any) -> Any:
                return item

            def __repr__(self) -> str:
                return f"fmft_inference._typing.{self._name}"

        NotRequired = _Transparent("NotRequired")  # type: ignore[assignment]
        try:
            from typing import TypeAlias
        except ImportError:
            TypeAlias = _Transparent("TypeAlias")  # type: ignore[assignment]
