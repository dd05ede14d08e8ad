-- grain: one row per call
-- Every per-call definition of call-metrics.md in one place, so the daily, interval and agent
-- marts aggregate the same flags and cannot drift apart. Thresholds come from int_settings.
-- Durations the API left NULL count as 0 in formulas (fct_calls still shows the NULL).
-- A call without a ClientId / CenterId gets the dimensions' unknown member '(unknown)' (see
-- dim_clients): the key is in every aggregate's grain, and a NULL there would either fail the
-- refresh or drop the call from the marts; this way every call is counted and joins its dims.
-- Free text (Notes, CallerName, Server, ...) stays in the raw table: fct_calls is rebuilt on every
-- load and every extra wide column costs refresh time; join hostedsuite.calls on id for it.

with

calls as (

    select * from staging.stg_calls

),

repeat_calls as (

    select * from intermediate.int_repeat_calls

),

settings as (

    select * from intermediate.int_settings

),

forms as (

    select call_id, count(*) as forms_completed
    from staging.stg_call_forms
    group by call_id

),

interaction_summary as (

    select * from intermediate.int_call_interaction_summary

),

base as (

    select
        calls.*,
        lower(calls.direction) = 'incoming' as is_incoming,
        -- AnsweredBy is the primary signal; talk time is the fallback for calls the vendor did
        -- not attribute to an agent.
        calls.agent is not null or coalesce(calls.talk_seconds, 0) > 0 as is_answered,
        coalesce(calls.ring_seconds, 0) as ring_s,
        coalesce(calls.talk_seconds, 0) as talk_s,
        coalesce(calls.hold_seconds, 0) as hold_s,
        coalesce(calls.work_seconds, 0) as work_s,
        repeat_calls.call_id is not null as is_repeat_call,
        repeat_calls.repeat_call_id,
        -- floored within the local day, so intervals restart at local midnight even on DST days
        {{ interval_floor(calls.start_time_local, settings.interval_minutes) }}
            as interval_start_local

    from calls
    cross join settings
    left join repeat_calls on calls.call_id = repeat_calls.call_id

),

flagged as (

    select
        base.call_id,
        coalesce(base.client_id, '(unknown)') as client_id,
        coalesce(base.center_id, '(unknown)') as center_id,
        base.direction,
        base.agent,
        base.caller_number,
        base.start_time_utc,
        base.start_time_local,
        cast(base.start_time_local as date) as local_date,
        base.interval_start_local,
        -- the same interval start as an instant, at the call's own UTC offset: on the fall-back
        -- day the two local 01:00 hours share an interval_start_local but not this
        base.start_time_utc - (base.start_time_local - base.interval_start_local)
            as interval_start_utc,
        base.time_zone_id,
        base.duration_seconds,
        base.ring_seconds,
        base.talk_seconds,
        base.hold_seconds,
        base.transfer_seconds,
        base.work_seconds,
        base.hold_count,
        base.is_incoming,
        base.is_answered,
        base.is_incoming and not base.is_answered
        and base.ring_s >= settings.short_abandon_threshold_seconds as is_abandoned,
        base.is_incoming and not base.is_answered
        and base.ring_s < settings.short_abandon_threshold_seconds as is_short_abandon,
        base.is_incoming and base.is_answered
        and base.ring_s <= settings.service_level_threshold_seconds as is_within_service_level,
        base.transfer_to_number is not null
        or coalesce(base.transfer_seconds, 0) > 0
        or coalesce(interaction_summary.transfers_completed, 0) > 0 as is_transferred,
        coalesce(base.hold_count, 0) > 0 or base.hold_s > 0 as is_held,
        base.is_flagged,
        base.is_repeat_call,
        base.repeat_call_id,
        case when base.is_incoming and base.is_answered then base.ring_s end
            as speed_of_answer_seconds,
        case when base.is_answered then base.talk_s + base.hold_s + base.work_s end
            as handle_time_seconds,
        base.hold_s / nullif(base.talk_s + base.hold_s, 0) as hold_ratio,
        case when base.hold_count > 0 then base.hold_s / base.hold_count end
            as avg_hold_per_hold_seconds,
        coalesce(forms.forms_completed, 0) as forms_completed,
        base.transfer_to_number,
        coalesce(interaction_summary.interaction_count, 0) as interaction_count,
        coalesce(interaction_summary.transfer_attempts, 0) as transfer_attempts,
        coalesce(interaction_summary.transfers_completed, 0) as transfers_completed,
        coalesce(interaction_summary.transfers_stopped, 0) as transfers_stopped,
        interaction_summary.derived_hold_count,
        interaction_summary.derived_hold_seconds,
        base.flag_notes

    from base
    cross join settings
    left join forms on base.call_id = forms.call_id
    left join interaction_summary on base.call_id = interaction_summary.call_id

)

select * from flagged
