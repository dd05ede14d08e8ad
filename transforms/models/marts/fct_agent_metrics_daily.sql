-- grain: one row per agent × center_id × local_date
-- Answered calls attributed to an agent (AnsweredBy). Calls answered by the talk-time fallback
-- have no agent and are left out here (they still count in fct_call_metrics_daily).

with

calls as (

    select * from analytics.fct_calls
    where is_answered and agent is not null and {{ affected_days }}

),

aggregated as (

    select
        agent,
        center_id,
        local_date,
        count(*) as calls_handled,
        -- exact sums: the same whatever the order of the rows (see dialect.exact_sum)
        {{ exact_sum(coalesce(talk_seconds, 0)) }} as talk_seconds_total,
        {{ exact_sum(coalesce(hold_seconds, 0)) }} as hold_seconds_total,
        {{ exact_sum(coalesce(work_seconds, 0)) }} as work_seconds_total,
        {{ exact_sum(handle_time_seconds) }} as handle_seconds_total,
        cast({{ count_if(is_held) }} as bigint) as calls_held,
        cast({{ count_if(is_transferred) }} as bigint) as calls_transferred

    from calls
    group by agent, center_id, local_date

),

final as (

    select
        agent,
        center_id,
        local_date,
        calls_handled,
        talk_seconds_total,
        hold_seconds_total,
        work_seconds_total,
        handle_seconds_total,
        handle_seconds_total / calls_handled as avg_handle_time_seconds,
        calls_held,
        100.0 * cast(calls_held as double precision) / calls_handled as hold_rate_pct,
        calls_transferred

    from aggregated

)

select * from final
