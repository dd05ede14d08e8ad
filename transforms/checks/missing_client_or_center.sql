-- check: missing_client_or_center
-- table: fct_calls
-- severity: warn
-- Calls the API sent without a ClientId or CenterId ("", blanks or null). They are not lost:
-- fct_calls and every mart count them under the dimensions' unknown member '(unknown)'. But the
-- vendor's record is incomplete and per-client / per-center figures are short by these calls,
-- so each is reported rather than absorbed silently. The vendor's data: a warning.

select
    'fct_calls' as table_name,
    call_id as record_key,
    call_id,
    concat_ws(
        ' and ',
        case when client_id = '(unknown)' then 'ClientId' end,
        case when center_id = '(unknown)' then 'CenterId' end
    ) || ' empty: counted under ''(unknown)''' as details

from analytics.fct_calls
where (client_id = '(unknown)' or center_id = '(unknown)') and {{ affected_calls:call_id }}
