"""How a moment is shown to a customer: their local time, the way Chinese messages write it."""

from __future__ import annotations

from datetime import datetime, tzinfo


def format_local(moment: datetime, tz: tzinfo) -> str:
    """12月05日 09:00 (the month without a leading zero)."""
    return moment.astimezone(tz).strftime("%m月%d日 %H:%M").lstrip("0")
