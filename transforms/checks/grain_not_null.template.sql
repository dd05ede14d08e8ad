-- check: not_null_<table> (one per analytics table; placeholders filled from runner.GRAIN_KEYS)
-- severity: error: a NULL key column makes the row unreachable by the grain's joins.

select
    '{{ table_name }}' as table_name,
    {{ key_text }} as record_key,
    {{ call_id }} as call_id,
    {{ center_id }} as center_id,
    {{ local_date }} as local_date,
    'a key column of (' || '{{ key_columns }}' || ') is NULL' as details

from {{ table }}
where {{ any_key_null }}
