-- grain: one row per hold segment (call_id, hold_seq)
-- Materialised as a table: fct_hold_segments and the per-call summary both read it, and
-- deriving it scans every interaction.
-- A segment starts at a Hold event and ends at the next Retrieved, Hangup or transfer event. A
-- second Hold before that end is the same segment (the caller was already on hold). A hold that
-- never ends is closed at the call's end (StartTime + DurationInSeconds) and says so in ended_by;
-- when that end is unknown (no duration) or before the hold started, the hold's end and length
-- are NULL: a negative or invented length would be summed into derived_hold_seconds.
-- A Hold listed after the call's Hangup opens no segment: nobody can be put on hold after the
-- call ended (closing it at the call end would give a negative length).

with

interactions as (

    select
        call_id,
        seq,
        interaction_type,
        started_at_utc,
        case lower(interaction_type)
            when 'hold' then 'start'
            when 'retrieved' then 'end'
            when 'hangup' then 'end'
            when 'transferattempt' then 'end'
            when 'transfercompleted' then 'end'
            when 'transferstopped' then 'end'
        end as hold_role

    from staging.stg_call_interactions

),

events as (

    -- only the events that start or end a hold: the window below sorts these, not every
    -- interaction (a semi join to "calls that were held" costs more than it saves)
    select * from interactions where hold_role is not null

),

calls as (

    -- needed only to close a hold that never ended (see int_interaction_offsets on duplicates);
    -- NULL when the vendor sent no duration
    select
        call_id,
        {{ add_seconds(start_time_utc, duration_seconds) }}
            as call_ended_at_utc

    from staging.stg_calls

),

with_end as (

    select
        call_id,
        seq,
        interaction_type,
        hold_role,
        started_at_utc,
        -- the first hold-ending event after this one; a window, not a correlated subquery
        min(case when hold_role = 'end' then seq end) over (
            partition by call_id order by seq rows between 1 following and unbounded following
        ) as end_seq,
        -- same partition and order as above, so the same sort serves both
        coalesce(
            bool_or(lower(interaction_type) = 'hangup') over (
                partition by call_id order by seq
                rows between unbounded preceding and 1 preceding
            ),
            false
        ) as is_after_hangup

    from events

),

segments as (

    select
        call_id,
        end_seq,
        min(seq) as start_seq,
        {{ arg_min(started_at_utc, seq) }} as hold_started_at_utc

    from with_end
    where hold_role = 'start' and not is_after_hangup
    group by call_id, end_seq

),

bounded as (

    select
        segments.call_id,
        row_number() over (partition by segments.call_id order by segments.start_seq) as hold_seq,
        segments.start_seq as start_interaction_seq,
        segments.end_seq as end_interaction_seq,
        segments.hold_started_at_utc,
        coalesce(
            ends.started_at_utc,
            case
                when calls.call_ended_at_utc >= segments.hold_started_at_utc
                    then calls.call_ended_at_utc
            end
        ) as hold_ended_at_utc,
        coalesce(ends.interaction_type, 'CallEnd') as ended_by

    from segments
    left join with_end as ends
        on segments.call_id = ends.call_id and segments.end_seq = ends.seq
    left join calls on segments.call_id = calls.call_id

),

final as (

    select
        *,
        {{ epoch(hold_ended_at_utc) }} - {{ epoch(hold_started_at_utc) }} as hold_seconds

    from bounded

)

select * from final
