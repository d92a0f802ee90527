"""Response models of the reports routes (``api/routes/reports.py``)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from api.schemas.common import Response


class CurrencyBalance(Response):
    accounts: dict[str, int] = Field(description="Ledger account to balance, minor units")
    total: int = Field(description="Always 0: every entry balances")


class TrialBalance(Response):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "currencies": {
                        "EUR": {
                            "accounts": {
                                "revenue": 8000,
                                "tax_payable:…": 1520,
                                "receivable:…": -9520,
                            },
                            "total": 0,
                        }
                    }
                }
            ]
        },
    )
    currencies: dict[str, CurrencyBalance]
