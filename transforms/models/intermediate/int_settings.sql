-- grain: one row (the settings in force, typed)
-- analytics.metric_settings is written by the runner before any model, one row per setting so
-- analysts can read it; the models need it as one typed row to cross join.

with

metric_settings as (

    select * from analytics.metric_settings

),

pivoted as (

    -- the cast sits inside the CASE: a filtered aggregate would still cast every row's value
    -- (the formula's text included) and fail
    select
        max(
            case
                when setting_name = 'service_level_threshold_seconds'
                    then cast(setting_value as double precision)
            end
        ) as service_level_threshold_seconds,
        max(
            case
                when setting_name = 'short_abandon_threshold_seconds'
                    then cast(setting_value as double precision)
            end
        ) as short_abandon_threshold_seconds,
        max(case when setting_name = 'service_level_formula' then setting_value end)
            as service_level_formula,
        max(
            case
                when setting_name = 'repeat_call_window_hours' then cast(setting_value as double precision)
            end
        ) as repeat_call_window_hours,
        max(case when setting_name = 'interval_minutes' then cast(setting_value as integer) end)
            as interval_minutes,
        max(
            case
                when setting_name = 'service_level_target_pct' then cast(setting_value as double precision)
            end
        ) as service_level_target_pct,
        max(
            case when setting_name = 'shrinkage_pct' then cast(setting_value as double precision) end
        ) as shrinkage_pct,
        max(
            case when setting_name = 'max_occupancy_pct' then cast(setting_value as double precision) end
        ) as max_occupancy_pct

    from metric_settings

)

select * from pivoted
