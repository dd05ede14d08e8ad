-- grain: one row per center_id × interval_start_local × interval_start_utc
-- The intervals of fct_call_metrics_interval (every interval with at least one call, the DST
-- fall-back hour's two occurrences apart), all directions together. The model is Erlang C
-- (M/M/N: Poisson arrivals, exponential handle times, no abandonment) of the interval's incoming
-- calls at their own average handle time; the required agents are the fewest N > load whose
-- service level at the threshold reaches the target and whose occupancy (load ÷ N) stays within
-- the maximum. Erlang C comes from the Erlang B recursion, not factorials (500 Erlangs would
-- overflow A^N ÷ N!): B(0) = 1, B(k) = A·B(k−1) ÷ (k + A·B(k−1)), C = N·B ÷ (N − A·(1 − B)).
-- The recursion runs once per distinct (load, handle time), in plain SQL (a recursive CTE), so
-- the incremental refresh and every destination run the same statement as the other marts.

with recursive

-- import CTEs

calls as (

    select * from analytics.fct_calls
    where {{ affected_days }}

),

settings as (

    select * from intermediate.int_settings

),

-- logic CTEs

intervals as (

    -- One scan of the calls for both the queue (incoming calls, whatever the case of their
    -- Type) and the agents seen answering a call of any direction: a lower bound of the agents
    -- logged in, who may have waited for calls without answering any. The incoming measures
    -- are those of int_call_metrics_rollup over the interval's incoming directions together:
    -- a third grouping set there cost more than this whole model (bench: see README).
    select
        center_id,
        local_date,
        interval_start_local,
        interval_start_utc,
        count(distinct case when is_answered then agent end) as agents_observed,
        cast({{ count_if(is_incoming) }} as bigint) as calls_offered,
        cast({{ count_if(is_incoming and is_answered) }} as bigint) as calls_answered,
        cast({{ count_if(is_abandoned) }} as bigint) as calls_abandoned,
        cast({{ count_if(is_within_service_level) }} as bigint) as calls_within_service_level,
        {{ exact_sum(case when is_incoming then coalesce(handle_time_seconds, 0) end) }}
            as handle_seconds_total,
        {{ exact_sum(case when is_incoming then speed_of_answer_seconds end) }}
            as speed_of_answer_total
    from calls
    group by center_id, local_date, interval_start_local, interval_start_utc

),

demand as (

    select
        intervals.center_id,
        intervals.local_date,
        intervals.interval_start_local,
        intervals.interval_start_utc,
        intervals.agents_observed,
        settings.interval_minutes,
        intervals.calls_offered,
        intervals.handle_seconds_total / nullif(intervals.calls_answered, 0)
            as avg_handle_time_seconds,
        -- the rollup's service level and ASA (call-metrics.md), NULL without incoming calls
        case
            when intervals.calls_offered > 0 then
                100.0 * cast(intervals.calls_within_service_level as double precision) / nullif(
                    case settings.service_level_formula
                        when 'answered_and_abandoned'
                            then intervals.calls_answered + intervals.calls_abandoned
                        when 'offered' then intervals.calls_offered
                        when 'answered' then intervals.calls_answered
                    end,
                    0
                )
        end as service_level_pct,
        intervals.speed_of_answer_total / nullif(intervals.calls_answered, 0)
            as avg_speed_of_answer_seconds,
        -- Erlangs: hours of work offered per hour = calls × AHT ÷ interval length. No incoming
        -- call: 0. Calls but none answered: unknown (no handle time to model), NULL.
        case
            when intervals.calls_offered = 0 then 0.0
            else
                cast(intervals.calls_offered as double precision)
                * (intervals.handle_seconds_total / nullif(intervals.calls_answered, 0))
                / (settings.interval_minutes * 60.0)
        end as offered_load_erlangs
    from intervals
    cross join settings

),

loads as (

    -- the model depends on the load and the handle time only: each pair is solved once
    select distinct
        demand.offered_load_erlangs,
        demand.avg_handle_time_seconds,
        settings.service_level_threshold_seconds / demand.avg_handle_time_seconds
            as threshold_per_handle,
        settings.service_level_target_pct / 100.0 as target_fraction,
        settings.max_occupancy_pct / 100.0 as max_occupancy_fraction
    from demand
    cross join settings
    where demand.offered_load_erlangs > 0

),

erlang_b as (

    -- one row per load and agent count k = 0, 1, ... up to the first k that meets the target
    select
        offered_load_erlangs,
        avg_handle_time_seconds,
        threshold_per_handle,
        target_fraction,
        max_occupancy_fraction,
        0 as agents,
        cast(1.0 as double precision) as erlang_b
    from loads

    union all

    select
        offered_load_erlangs,
        avg_handle_time_seconds,
        threshold_per_handle,
        target_fraction,
        max_occupancy_fraction,
        agents + 1,
        -- floored at 1e-300: past that C is 0 for any purpose, and PostgreSQL raises an error
        -- where a double underflows to 0 (DuckDB returns 0)
        greatest(
            offered_load_erlangs * erlang_b / (agents + 1 + offered_load_erlangs * erlang_b),
            1e-300
        )
    from erlang_b
    -- go on while k does not meet the target; CASE fixes the evaluation order, so the service
    -- level (a log of N − A·(1 − B)) is only computed where k > A
    where
        case
            when agents <= offered_load_erlangs then true
            when offered_load_erlangs > max_occupancy_fraction * agents then true
            else
                -- SL = 1 − C·exp(−(N − A)·t ÷ AHT), in logs (no underflow), as below
                1 - exp(greatest(
                    ln(agents * erlang_b) - ln(agents - offered_load_erlangs * (1 - erlang_b))
                    - (agents - offered_load_erlangs) * threshold_per_handle,
                    -700
                )) < target_fraction
        end

),

solved as (

    -- the last row of each recursion is the first k that met the target
    select
        erlang_b.*,
        row_number() over (
            partition by offered_load_erlangs, avg_handle_time_seconds order by agents desc
        ) as rank_from_last
    from erlang_b

),

modelled as (

    select
        offered_load_erlangs,
        avg_handle_time_seconds,
        agents as agents_required,
        -- ln C, C = N·B ÷ (N − A·(1 − B)): the probability that a call waits
        ln(agents * erlang_b) - ln(agents - offered_load_erlangs * (1 - erlang_b)) as ln_erlang_c,
        threshold_per_handle
    from solved
    where rank_from_last = 1

),

staffed as (

    select
        demand.*,
        -- no load (no incoming call, or AHT 0): no agent needed and no model to quote
        case
            when demand.offered_load_erlangs = 0 then 0 else modelled.agents_required
        end as agents_required,
        modelled.ln_erlang_c,
        modelled.threshold_per_handle
    from demand
    left join modelled
        on demand.offered_load_erlangs = modelled.offered_load_erlangs
        and demand.avg_handle_time_seconds = modelled.avg_handle_time_seconds

),

final as (

    select
        staffed.center_id,
        staffed.interval_start_local,
        staffed.interval_start_utc,
        staffed.local_date,
        staffed.interval_minutes,
        staffed.calls_offered,
        staffed.avg_handle_time_seconds,
        staffed.offered_load_erlangs,
        cast(staffed.agents_required as bigint) as agents_required,
        -- SL(t) = 1 − C·exp(−(N − A)·t ÷ AHT), ASA = C·AHT ÷ (N − A), in logs (no underflow);
        -- NULL where no agent is modelled (the CASE: greatest() skips a NULL argument)
        case
            when staffed.ln_erlang_c is not null then
                100.0 * (1 - exp(greatest(
                    staffed.ln_erlang_c
                    - (staffed.agents_required - staffed.offered_load_erlangs)
                    * staffed.threshold_per_handle,
                    -700
                )))
        end as model_service_level_pct,
        case
            when staffed.ln_erlang_c is not null then
                exp(greatest(
                    staffed.ln_erlang_c + ln(staffed.avg_handle_time_seconds)
                    - ln(staffed.agents_required - staffed.offered_load_erlangs),
                    -700
                ))
        end as model_avg_speed_of_answer_seconds,
        100.0 * staffed.offered_load_erlangs / nullif(staffed.agents_required, 0)
            as model_occupancy_pct,
        -- ⌈N ÷ (1 − shrinkage)⌉; the 1e-9 absorbs the binary rounding of the division
        -- (7 ÷ 0.7 is 10.000000000000002 in doubles), far below one agent
        cast(
            ceil(staffed.agents_required / (1 - settings.shrinkage_pct / 100.0) - 1e-9)
            as bigint
        ) as agents_required_with_shrinkage,
        staffed.agents_observed,
        cast(staffed.agents_required - staffed.agents_observed as bigint) as agents_gap,
        staffed.agents_required > staffed.agents_observed as is_understaffed,
        staffed.service_level_pct,
        staffed.avg_speed_of_answer_seconds

    from staffed
    cross join settings

)

select * from final
