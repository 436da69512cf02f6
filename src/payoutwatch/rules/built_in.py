"""The rules payoutwatch ships, registered in this order (DESIGN §5): importing this module registers them."""

from payoutwatch.rules import (  # noqa: F401, I001  (imported for their registration, in this order)
    automation_failure,
    fallback_volume,
    credential_expiry,
    reserve_breach,
    source_stale,
    notification_failing,
)
