-- check: duration_reconciles
-- table: fct_calls
-- severity: warn
-- DurationInSeconds should equal ring + talk + hold + transfer (work time is after the call).
-- Tolerance 1 s: the API rounds each part separately. A mismatch is the vendor's data.
-- A NULL DurationInSeconds is not a mismatch: there is nothing to reconcile (read as 0 it would
-- report every answered call the vendor sent without a duration).

select
    'fct_calls' as table_name,
    call_id as record_key,
    call_id,
    'duration_seconds=' || duration_seconds
    || ' but ring+talk+hold+transfer=' || parts_seconds as details

from (
    select
        call_id,
        duration_seconds,
        coalesce(ring_seconds, 0) + coalesce(talk_seconds, 0) + coalesce(hold_seconds, 0)
        + coalesce(transfer_seconds, 0) as parts_seconds
    from analytics.fct_calls
    where duration_seconds is not null and {{ affected_calls:call_id }}
) as calls
where abs(duration_seconds - parts_seconds) > 1
