"""What ``tally ... --help`` shows beyond the options: an example of each command, kept
here in one table so that the parser's code stays about parsing. ``add_examples`` puts
each into its command's help (argparse's epilog); a test checks that every command has
one and that the parser accepts it."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version

# By command path. Shell variables stand for ids printed by earlier commands
# (``tally projects create`` prints the project id and its first API key).
EXAMPLES: dict[str, list[str]] = {
    "": [
        "tally serve                                  # the API on http://127.0.0.1:8000",
        "tally projects create acme --mode test       # a project and its first API key",
        "tally customers create user_42 --project $PROJECT --currency EUR   # as the API would",
        "tally replay --quiet                         # check the read models against the log",
    ],
    "serve": [
        "tally serve",
        "tally serve --host 0.0.0.0 --port 8011 --workers 4",
    ],
    "projects": ["tally projects create acme --mode test", "tally projects list --json"],
    "projects create": [
        "tally projects create acme",
        "tally projects create sandbox --mode test --label ci --json",
    ],
    "projects list": ["tally projects list", "tally projects list --json"],
    "keys": ["tally keys create --project $PROJECT --label deploy"],
    "keys list": ["tally keys list --project $PROJECT"],
    "keys create": ["tally keys create --project $PROJECT --label deploy"],
    "keys revoke": ["tally keys revoke --project $PROJECT $KEY_ID"],
    # Issue 14: the operator's commands (the operator API runs the same).
    "keys rotate": ["tally keys rotate --project $PROJECT $KEY_ID --overlap 3600"],
    "projects show": ["tally projects show $PROJECT --json"],
    "projects update": ["tally projects update $PROJECT --name 'Acme Inc.' --currency EUR"],
    "projects limits": [
        "tally projects limits $PROJECT --api-key 200/1 --webhook default",
    ],
    "operator": ["tally operator keys create --label ops"],
    "operator keys": ["tally operator keys list"],
    "operator keys create": ["tally operator keys create --label ops --json"],
    "operator keys list": ["tally operator keys list --json"],
    "operator keys revoke": ["tally operator keys revoke $KEY_ID"],
    "projections": ["tally projections status"],
    "projections run": ["tally projections run"],
    "projections status": ["tally projections status --json"],
    "catalog": ["tally catalog load catalog.yaml --project $PROJECT"],
    "catalog load": ["tally catalog load catalog.yaml --project $PROJECT --json"],
    "meters": ["tally meters list --project $PROJECT"],
    "meters define": [
        "tally meters define api_calls --project $PROJECT --event-name api_call "
        "--aggregation count",
        "tally meters define tokens --project $PROJECT --event-name completion "
        "--aggregation sum --property tokens --group-by model --filter region=eu,us --json",
    ],
    "meters list": ["tally meters list --project $PROJECT --json"],
    "meters show": ["tally meters show $METER --project $PROJECT --json"],
    "credits": ["tally credits balance $CUSTOMER --project $PROJECT"],
    "credits grant": [
        "tally credits grant $CUSTOMER 5000 --project $PROJECT --expires-at 2030-03-01T00:00:00Z",
        "tally credits grant $CUSTOMER 10000 --project $PROJECT --kind paid --source stripe "
        "--priority 10 --price $PRICE --json",
    ],
    "credits list": ["tally credits list $CUSTOMER --project $PROJECT --json"],
    "credits balance": ["tally credits balance $CUSTOMER --project $PROJECT"],
    "credits consume": [
        "tally credits consume $CUSTOMER 25 --project $PROJECT --description 'request 81'"
    ],
    # The everyday writes and reads of the API (api/cli_routes.py).
    "customers": ["tally customers create user_42 --project $PROJECT --currency EUR"],
    "customers create": [
        "tally customers create user_42 --project $PROJECT --currency EUR --email ada@example.com",
        "tally customers create user_43 --project $PROJECT --test-clock $CLOCK --json",
    ],
    "customers update": ["tally customers update $CUSTOMER --project $PROJECT --name 'Ada L.'"],
    "customers list": ["tally customers list --project $PROJECT --limit 100 --json"],
    "customers show": [
        "tally customers show $CUSTOMER --project $PROJECT --json",
        "tally customers show user_42 --external-id --project $PROJECT",
    ],
    "accounts": ["tally accounts balance $ACCOUNT --project $PROJECT"],
    "accounts open": ["tally accounts open $CUSTOMER --project $PROJECT --currency EUR --json"],
    "accounts deposit": [
        "tally accounts deposit $ACCOUNT 5000 --project $PROJECT --currency EUR --source stripe",
        "tally accounts deposit $ACCOUNT 5000 --project $PROJECT --currency EUR "
        "--idempotency-key topup-81",
    ],
    "accounts withdraw": ["tally accounts withdraw $ACCOUNT 300 --project $PROJECT --currency EUR"],
    "accounts transfer": [
        "tally accounts transfer $ACCOUNT $OTHER 900 --project $PROJECT --currency EUR --json"
    ],
    "accounts list": ["tally accounts list --project $PROJECT --owner-ref $CUSTOMER"],
    "accounts show": ["tally accounts show $ACCOUNT --project $PROJECT --json"],
    "accounts balance": ["tally accounts balance $ACCOUNT --project $PROJECT"],
    "accounts freeze": ["tally accounts freeze $ACCOUNT --project $PROJECT --reason chargeback"],
    "accounts unfreeze": ["tally accounts unfreeze $ACCOUNT --project $PROJECT"],
    "accounts close": ["tally accounts close $ACCOUNT --project $PROJECT --json"],
    "accounts low-balance-threshold": [
        "tally accounts low-balance-threshold $ACCOUNT 500 --project $PROJECT",
        "tally accounts low-balance-threshold $ACCOUNT none --project $PROJECT   # clear it",
    ],
    "transactions": ["tally transactions show $TRANSACTION --project $PROJECT"],
    "transactions show": ["tally transactions show $TRANSACTION --project $PROJECT --json"],
    "transactions confirm": ["tally transactions confirm $TRANSACTION --project $PROJECT"],
    "transactions fail": [
        "tally transactions fail $TRANSACTION --project $PROJECT --reason 'card declined'"
    ],
    "transactions reverse": [
        "tally transactions reverse $TRANSACTION --project $PROJECT          # all that is left",
        "tally transactions reverse $TRANSACTION --project $PROJECT --amount 200 --reason refund",
    ],
    "holds": ["tally holds list $ACCOUNT --project $PROJECT --status active"],
    "holds place": [
        "tally holds place $ACCOUNT 2000 --project $PROJECT --currency EUR "
        "--expires-at 2030-01-01T00:00:00Z",
    ],
    "holds capture": [
        "tally holds capture $ACCOUNT $HOLD --project $PROJECT            # the whole hold",
        "tally holds capture $ACCOUNT $HOLD --project $PROJECT --amount 1500 --json",
    ],
    "holds void": ["tally holds void $ACCOUNT $HOLD --project $PROJECT"],
    "holds release": ["tally holds release $ACCOUNT $HOLD --project $PROJECT"],
    "holds show": ["tally holds show $ACCOUNT $HOLD --project $PROJECT --json"],
    "holds list": ["tally holds list $ACCOUNT --project $PROJECT --json"],
    "subscriptions": ["tally subscriptions list --project $PROJECT --status past_due"],
    "subscriptions create": [
        "tally subscriptions create $CUSTOMER --project $PROJECT --lookup-key pro_monthly_eur",
        "tally subscriptions create $CUSTOMER --project $PROJECT --price $PRICE:5 --trial-days 14",
        "tally subscriptions create $CUSTOMER --project $PROJECT --plan PRO --interval month",
    ],
    "subscriptions list": ["tally subscriptions list --project $PROJECT --customer $CUSTOMER"],
    "subscriptions show": ["tally subscriptions show $SUBSCRIPTION --project $PROJECT --json"],
    "subscriptions cancel": [
        "tally subscriptions cancel $SUBSCRIPTION --project $PROJECT                # now",
        "tally subscriptions cancel $SUBSCRIPTION --project $PROJECT --at-period-end",
    ],
    "subscriptions undo-cancel": [
        "tally subscriptions undo-cancel $SUBSCRIPTION --project $PROJECT"
    ],
    "subscriptions pause": [
        "tally subscriptions pause $SUB --project $PROJECT --resume-at 2030-06-01T00:00:00Z"
    ],
    "subscriptions resume": ["tally subscriptions resume $SUBSCRIPTION --project $PROJECT"],
    "subscriptions activate": ["tally subscriptions activate $SUBSCRIPTION --project $PROJECT"],
    "subscriptions extend-trial": [
        "tally subscriptions extend-trial $SUB --project $PROJECT --trial-end 2030-02-01T00:00:00Z"
    ],
    "subscriptions change-items": [
        "tally subscriptions change-items $SUB --project $PROJECT --lookup-key pro_monthly_eur:8",
        "tally subscriptions change-items $SUB --project $PROJECT --price $PRICE "
        "--proration period_end --json",
    ],
    "test-clocks": [
        "tally test-clocks create --project $PROJECT --frozen-time 2030-01-01T00:00:00Z"
    ],
    "test-clocks create": [
        "tally test-clocks create --project $PROJECT --frozen-time 2030-01-01T00:00:00Z --json"
    ],
    "test-clocks advance": [
        "tally test-clocks advance $CLOCK --project $PROJECT --frozen-time 2030-02-01T00:00:00Z"
    ],
    "test-clocks list": ["tally test-clocks list --project $PROJECT"],
    "test-clocks show": ["tally test-clocks show $CLOCK --project $PROJECT --json"],
    "subscriptions run-by": [
        "tally subscriptions run-by provider --project $PROJECT   # stripe or paddle runs them",
        "tally subscriptions run-by tally --project $PROJECT --json",
    ],
    "prices": ["tally prices map $PRICE stripe=price_1PgafmB7WZ01 --project $PROJECT"],
    "prices map": [
        "tally prices map $PRICE stripe=price_1PgafmB7WZ01 --project $PROJECT",
        "tally prices map $PRICE --project $PROJECT --json     # no provider prices",
    ],
    "payments": ["tally payments list --project $PROJECT --status failed"],
    "payments list": [
        "tally payments list --project $PROJECT",
        "tally payments list --project $PROJECT --invoice $INVOICE --json",
        "tally payments list --project $PROJECT --customer $CUSTOMER --status refunded",
    ],
    "payments show": ["tally payments show $PAYMENT --project $PROJECT --json"],
    "usage": ["tally usage replay"],
    "usage replay": ["tally usage replay --json"],
    "usage export": ["tally usage export --project $PROJECT"],
    "scheduler": ["tally scheduler run --once"],
    "scheduler run": [
        "tally scheduler run --interval 30",
        "tally scheduler run --once --json            # from cron",
    ],
    "invoices": ["tally invoices list --project $PROJECT --status open"],
    "invoices create": [
        "tally invoices create $CUSTOMER --project $PROJECT --line 'Setup fee' 5000 "
        "--line 'Onboarding call' 12000 --description March --json",
    ],
    "invoices add-line": [
        "tally invoices add-line $INVOICE 'Extra seats' 500 --project $PROJECT --quantity 3"
    ],
    "invoices finalize": ["tally invoices finalize $INVOICE --project $PROJECT"],
    "invoices void": ["tally invoices void $INVOICE --project $PROJECT"],
    "invoices mark-uncollectible": [
        "tally invoices mark-uncollectible $INVOICE --project $PROJECT"
    ],
    "invoices pay": [
        "tally invoices pay $INVOICE --project $PROJECT --method wallet",
        "tally invoices pay $INVOICE --project $PROJECT --method provider --json",
        "tally invoices pay $INVOICE --project $PROJECT --method out_of_band --reference 'wire 81'",
    ],
    "invoices list": ["tally invoices list --project $PROJECT --customer $CUSTOMER --json"],
    "invoices show": ["tally invoices show $INVOICE --project $PROJECT --json"],
    "invoices pdf": ["tally invoices pdf $INVOICE --project $PROJECT -o invoice.pdf"],
    "invoices html": ["tally invoices html $INVOICE --project $PROJECT -o -"],
    "invoices remove-line": ["tally invoices remove-line $INVOICE $LINE --project $PROJECT"],
    "invoices apply-coupon": [
        "tally invoices apply-coupon $INVOICE --project $PROJECT --coupon SPRING25",
        "tally invoices apply-coupon $INVOICE --project $PROJECT --promotion-code FRIENDS",
    ],
    "invoices retry-payment": ["tally invoices retry-payment $INVOICE --project $PROJECT --json"],
    "invoices credit-note": [
        "tally invoices credit-note $INVOICE --project $PROJECT --amount 1000 --reason outage",
        "tally invoices credit-note $INVOICE --project $PROJECT --refund-to original_payment",
    ],
    "invoices credit-notes": ["tally invoices credit-notes --project $PROJECT --invoice $INVOICE"],
    "secrets": ["tally secrets new-key"],
    "secrets new-key": ["tally secrets new-key"],
    "secrets reseal": ["tally secrets reseal --json"],
    "identity-provider": ["tally identity-provider show --project $PROJECT"],
    "identity-provider set": [
        "tally identity-provider set --project $PROJECT --jwks-url "
        "https://TENANT.eu.auth0.com/.well-known/jwks.json --issuer https://TENANT.eu.auth0.com/ "
        "--audience https://billing.example.com --algorithms RS256",
        "IDP_SECRET=... tally identity-provider set --project $PROJECT --shared-secret-env "
        "IDP_SECRET --issuer my-app --audience tally --algorithms HS256",
    ],
    "identity-provider show": ["tally identity-provider show --project $PROJECT --json"],
    "payment-provider": ["tally payment-provider show --project $PROJECT"],
    "payment-provider show": ["tally payment-provider show --project $PROJECT --json"],
    "payment-provider set": [
        "tally payment-provider set --project $PROJECT --provider stripe "
        "--credential-env api_key=ACME_STRIPE_KEY --credential-env webhook_secret=ACME_WHSEC",
        "STRIPE_WHSEC=whsec_... tally payment-provider set --project $PROJECT --provider stripe "
        "--credential-env api_key=ACME_STRIPE_KEY --credentials-from-env "
        "webhook_secret=STRIPE_WHSEC",
    ],
    "webhooks": ["tally webhooks deliveries --project $PROJECT"],
    "webhooks endpoints": ["tally webhooks endpoints --project $PROJECT --json"],
    "webhooks create": [
        "tally webhooks create --project $PROJECT --url https://example.com/tally/webhooks",
        "tally webhooks create --project $PROJECT --url https://example.com/hooks "
        "--enabled-events billing.invoice.paid,billing.subscription.canceled --json",
    ],
    "webhooks show": ["tally webhooks show $ENDPOINT --project $PROJECT --json"],
    "webhooks update": [
        "tally webhooks update $ENDPOINT --project $PROJECT --status disabled",
        "tally webhooks update $ENDPOINT --project $PROJECT --enabled-events '*' --status enabled",
    ],
    "webhooks rotate-secret": [
        "tally webhooks rotate-secret $ENDPOINT --project $PROJECT --previous-expires-in-s 3600",
    ],
    "webhooks delete": ["tally webhooks delete $ENDPOINT --project $PROJECT"],
    "webhooks deliveries": ["tally webhooks deliveries --project $PROJECT --limit 20"],
    "webhooks redeliver": ["tally webhooks redeliver $DELIVERY --project $PROJECT"],
    "webhooks deliver": ["tally webhooks deliver --json"],
    "broker": ["tally broker status"],
    "broker publish": [
        "tally broker publish                         # beside tally serve, until stopped",
        "tally broker publish --once --json           # catch up, then exit",
    ],
    "broker status": ["tally broker status --json"],
    "broker queues": [
        "tally broker queues                          # every project's command queue",
        "tally broker queues --project $PROJECT --json",
    ],
    "replay": ["tally replay", "tally replay --quiet --json"],
    "audit": ["tally audit verify"],
    "audit verify": [
        "tally audit verify",
        "tally audit verify --from 5000 --to 9000 --json",
        "tally audit verify --checkpoint checkpoint.json --public-key $AUDIT_PUBLIC_KEY",
        "tally audit verify --usage",
    ],
    "audit checkpoint": ["tally audit checkpoint --out checkpoint.json"],
    "audit keygen": ["tally audit keygen --out audit.key"],
    "audit backfill": ["tally audit backfill --json"],
    "export": [
        "tally export events --out events.jsonl",
        "tally export journal --format csv --from 2026-01-01 --to 2026-03-31 --out q1.csv",
    ],
    "export events": [
        "tally export events --out events.jsonl",
        "tally export events --from 5000 --to 9000 --out part.jsonl",
    ],
    "backtest": [
        "tally backtest --catalog new_prices.yaml --project $PROJECT "
        "--from 2026-01-01 --to 2026-12-31",
    ],
    "export journal": [
        "tally export journal --format csv --from 2026-01-01 --to 2026-03-31 --out q1.csv",
        "tally export journal --format jsonl --project $PROJECT --from 5000",
    ],
}


def tally_version() -> str:
    """The installed distribution's version (``pyproject.toml``)."""
    try:
        return version("tally")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def add_examples(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> None:
    """Give ``parser`` and each of its subcommands their examples, as written."""
    examples = EXAMPLES.get(" ".join(path))
    if examples:
        heading = "example:" if len(examples) == 1 else "examples:"
        parser.epilog = "\n".join([heading, *(f"  {line}" for line in examples)])
        # Keeps the examples' lines and spacing as written.
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                add_examples(child, (*path, name))
