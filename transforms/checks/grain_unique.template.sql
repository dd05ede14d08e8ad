-- check: unique_<table> (one per analytics table; the runner fills the placeholders from
-- runner.GRAIN_KEYS)
-- severity: error: a duplicate key means a join fanned out or the raw data has duplicates, and
-- every measure built on the table would be wrong.
-- One finding per duplicated key value.

select
    '{{ table_name }}' as table_name,
    {{ key_text }} as record_key,
    {{ call_id }} as call_id,
    {{ center_id }} as center_id,
    {{ local_date }} as local_date,
    'key (' || '{{ key_columns }}' || ') occurs ' || count(*) || ' times' as details

from {{ table }}
group by {{ key_columns }}
having count(*) > 1
